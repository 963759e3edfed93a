"""Splitting hook paths into directory segments, with a last defensive check.

The core validates every segment before a hook runs; this check repeats the part
that keeps a path inside its bucket (``..``, separators, NUL), because a segment
that slipped through would be joined to real directories.
"""

from __future__ import annotations


def check_segment(segment: str, path: str) -> str:
    """Return ``segment`` if it is one safe path segment of ``path``, else raise
    :class:`ValueError`."""
    if not segment or segment[0] == "." or "/" in segment or "\\" in segment or "\0" in segment:
        raise ValueError(f"invalid path {path!r}: segment {segment!r} is not a plain name")
    return segment


def split_path(path: str) -> tuple[list[str], str]:
    """Split an object path into its parent directory names and its file name."""
    segments = path.split("/")
    for segment in segments:
        check_segment(segment, path)
    name = segments.pop()
    return segments, name


def split_prefix(prefix: str) -> tuple[str, list[str], str]:
    """Split a listing prefix at its last ``/`` into the directory (as text and as
    checked segments) and the name prefix."""
    cut = prefix.rfind("/") + 1
    directory = prefix[:cut]
    segments = [check_segment(segment, prefix) for segment in directory.split("/")[:-1]]
    return directory, segments, prefix[cut:]
