"""Validation of session ids, filenames and bucket names before any I/O.

A valid name is one path segment on every backend: it cannot contain a
separator, cannot be ``.`` or ``..``, and so cannot reach outside its bucket.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence

from sessionstore.errors import InvalidSessionIdError

MAX_NAME_BYTES = 255
"""The longest name, in UTF-8 bytes: a file name on common file systems."""

_WINDOWS_RESERVED = re.compile(
    r"(?i)^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³]|conin\$|conout\$)(\..*)?$"
)
# Unicode categories Cc (C0, DEL, C1) and Cs (lone surrogates), the line and
# paragraph separators that break line-oriented tools, and the noncharacters
# U+FFFE and U+FFFF, which XML cannot carry: S3 and Azure list in XML (one such
# name made every listing of an Azurite container fail).
_FORBIDDEN_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\ufffe\uffff]")
_NONCHARACTERS = "\ufffe\uffff"
_PLAIN = re.compile(
    r"(?!(?i:con|prn|aux|nul|com|lpt))[A-Za-z0-9_-](?:[A-Za-z0-9._-]{0,253}[A-Za-z0-9_-])?"
)
"""Names that pass every check below: ASCII letters, digits, ``_``, ``-`` and inner
dots, at most 255 characters (so bytes), not starting like a device name."""
_PLAIN_DIRECTORY = re.compile(f"{_PLAIN.pattern}/")
"""A listing entry of a plain directory name, ``name/``."""
_PLAIN_DIRECTORIES: re.Pattern[str] | None
"""Listing entries of plain directory names, each as ``name/`` and ended by a newline.
Possessive: a greedy ``*`` would keep a backtracking record per entry (~300 bytes).
``None`` before Python 3.11, which has no possessive repeat: there each entry is
matched with :data:`_PLAIN_DIRECTORY` instead."""
if sys.version_info >= (3, 11):
    _PLAIN_DIRECTORIES = re.compile(f"(?:{_PLAIN.pattern}/\n)*+")
else:
    _PLAIN_DIRECTORIES = None
_BUCKET = re.compile(r"[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]")


def validate_name(name: object, kind: str = "session id") -> str:
    """Return ``name`` if it is a safe single path segment, else raise
    :class:`InvalidSessionIdError` saying why.

    Rejected: non-strings, empty, longer than 255 UTF-8 bytes, a leading ``.``
    (covers ``.`` and ``..``; such names are reserved for backends' own
    bookkeeping), ``/`` or ``\\``, control characters (NUL included), lone
    surrogates, the noncharacters U+FFFE and U+FFFF, surrounding whitespace, a
    trailing ``.`` (Windows and Azure drop it, merging ``a.`` into ``a``), and
    Windows device names (``CON``, ``nul.txt``...), which open a device there.
    Windows' other refusals (``: * ? " < > |``) are allowed: every backend stores
    them.
    """
    if type(name) is str and _PLAIN.fullmatch(name):
        return name  # the common case, decided by one regular expression
    return _check_name(name, kind)


def valid_names(names: list[str]) -> list[str]:
    """``names`` without those :func:`validate_name` refuses (objects written
    outside sessionstore may have them), in order. Checks 100,000 names in a few
    tens of milliseconds when all are plain."""
    if all(map(_PLAIN.fullmatch, names)):
        return names
    return [name for name in names if _is_valid(name)]


def valid_directory_names(entries: Sequence[str]) -> list[str]:
    """The names of the directory entries (``name/``) among a listing's
    ``entries``, without those :func:`validate_name` refuses, in order.

    A page of plain directory names (every session listing sessionstore's own
    writes make) is checked by one regular expression over the whole page and cut
    by one split: about half the time a test per name takes at 100,000 names
    (Python 3.10, which has no possessive repeat, tests each name)."""
    if _PLAIN_DIRECTORIES is None:  # Python 3.10: a test per entry
        if all(map(_PLAIN_DIRECTORY.fullmatch, entries)):
            return [entry[:-1] for entry in entries]
    else:
        joined = "\n".join(entries) + "\n"
        if _PLAIN_DIRECTORIES.fullmatch(joined):
            # Plain names hold no newline, so as many names as entries means no entry
            # held one: each entry was exactly one ``name/``.
            names = joined.split("/\n")
            names.pop()
            if len(names) == len(entries):
                return names
    return valid_names([entry[:-1] for entry in entries if entry[-1:] == "/"])


def _is_valid(name: str) -> bool:
    try:
        _check_name(name, "name")
    except InvalidSessionIdError:
        return False
    return True


def _check_name(name: object, kind: str) -> str:
    if not isinstance(name, str):
        raise InvalidSessionIdError(f"{kind} must be a string, got {type(name).__name__}")
    if not name:
        raise InvalidSessionIdError(f"{kind} must not be empty")
    try:
        size = len(name.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidSessionIdError(f"{kind} {name!r} contains a lone surrogate") from None
    if size > MAX_NAME_BYTES:
        raise InvalidSessionIdError(
            f"{kind} is {size} bytes long in UTF-8; the limit is {MAX_NAME_BYTES}"
        )
    if name[0] == ".":
        raise InvalidSessionIdError(f"{kind} {name!r} must not start with '.'")
    if name != name.strip():
        raise InvalidSessionIdError(f"{kind} {name!r} must not start or end with whitespace")
    if name[-1] == ".":
        # Windows and Azure Blob drop a trailing dot: "a." would become "a".
        raise InvalidSessionIdError(f"{kind} {name!r} must not end with '.'")
    _check_characters(name, kind)
    if _WINDOWS_RESERVED.match(name):
        raise InvalidSessionIdError(f"{kind} {name!r} is a reserved device name on Windows")
    return name


def validate_prefix(prefix: object) -> str:
    """Return ``prefix`` if it can start a session id (``""`` matches all), else
    raise :class:`InvalidSessionIdError`: it must stay one path segment."""
    if not isinstance(prefix, str):
        raise InvalidSessionIdError(f"prefix must be a string, got {type(prefix).__name__}")
    if len(prefix.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        raise InvalidSessionIdError(f"prefix is longer than {MAX_NAME_BYTES} bytes")
    _check_characters(prefix, "prefix")
    return prefix


def key_prefix(value: str, *, service: str, key_limit: int = 1024) -> str:
    """``value`` without surrounding ``/``, checked as the prefix of object keys
    ``<prefix>/<session_id>/<filename>`` that ``service`` limits to ``key_limit``
    UTF-8 bytes (a cloud backend's ``prefix`` option).

    Raises :class:`ValueError` for an empty, ``.`` or ``..`` segment (URL
    normalisation may fold ``a/../b`` into ``b``), or for a prefix leaving no room
    for the longest session id and file name: emulators accept such keys, the
    services refuse them, as a storage failure at the first long id.
    """
    prefix = value.strip("/")
    if prefix and any(segment in ("", ".", "..") for segment in prefix.split("/")):
        raise ValueError(
            f"prefix {value!r} has an empty, '.' or '..' segment; "
            "use '/'-separated names such as 'apps/sessions'"
        )
    size = len(prefix.encode("utf-8", "surrogatepass"))
    longest = key_limit - 2 * (MAX_NAME_BYTES + 1)
    if size > longest:
        raise ValueError(
            f"prefix is {size} bytes long in UTF-8; at most {longest} leave room under "
            f"{service}'s {key_limit}-byte name limit for the longest session id and "
            f"file name ({MAX_NAME_BYTES} bytes each)"
        )
    return prefix


def _check_characters(name: str, kind: str) -> None:
    if "/" in name or "\\" in name:
        raise InvalidSessionIdError(f"{kind} {name!r} must not contain '/' or '\\'")
    bad = _FORBIDDEN_CHARACTERS.search(name)
    if bad and bad.group() in _NONCHARACTERS:
        raise InvalidSessionIdError(
            f"{kind} {name!r} contains the noncharacter U+{ord(bad.group()):04X}, which "
            "cloud listings (XML) cannot carry"
        )
    if bad:
        raise InvalidSessionIdError(
            f"{kind} {name!r} contains the control character U+{ord(bad.group()):04X}"
        )


def validate_bucket(bucket: object) -> str:
    """Return ``bucket`` if it is a safe bucket name (3-63 characters of ``a-z``,
    ``0-9``, ``.``, ``_``, ``-``, starting and ending with a letter or digit, no
    ``..``), else raise :class:`InvalidSessionIdError`. This keeps bucket names
    from reaching outside the storage root; each backend enforces its service's
    stricter rules (Azure, for one, refuses ``.`` and ``_``)."""
    if not isinstance(bucket, str) or not _BUCKET.fullmatch(bucket) or ".." in bucket:
        raise InvalidSessionIdError(
            f"bucket {bucket!r} is not a valid bucket name: use 3-63 characters of "
            "a-z, 0-9, '.', '_' and '-', starting and ending with a letter or digit"
        )
    return bucket


def session_path(session_id: str, filename: str) -> str:
    """The bucket-relative path of one session file, both parts validated."""
    return f"{validate_name(session_id)}/{validate_name(filename, 'filename')}"
