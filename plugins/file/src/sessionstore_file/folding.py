"""Volumes that fold names: ``Chat`` and ``chat`` are one entry there.

macOS's and Windows' default volumes fold case, as do FAT and exFAT drives, most
SMB shares and ext4 folders with casefold. A lookup of ``chat`` finds the entry made
as ``Chat``, so, left alone, storing session ``chat`` would replace ``Chat``'s state
and loading ``chat`` would return it. The bucket directory is therefore probed when
a store opens it (:func:`folds_names`); on a folding volume every name looked up is
checked against the spelling stored in its directory (:func:`stored_as`). A name
stored under another spelling reads as absent, and writing it is refused. The check
lists the directory, a cost in proportion to its size paid only on such volumes.

Spellings that differ only in Unicode normalization count as one name: HFS+ stores
every name decomposed, so a session written as ``café`` (composed) must read back,
and the two forms look the same to whoever chose them.
"""

from __future__ import annotations

import os
import unicodedata
from contextlib import suppress

from sessionstore_file.atomic import temp_name
from sessionstore_file.locking import locked


class FoldedName(Exception):
    """A name looked up on a folding volume is stored under another spelling."""

    def __init__(self, name: str, stored: str) -> None:
        super().__init__(name, stored)
        self.name = name
        self.stored = stored


def folds_names(dir_fd: int) -> bool:
    """Whether the volume of the open directory ``dir_fd`` finds a name under
    another case, probed with a hidden temporary file.

    The probe is made under the directory's lock, as every temporary file in it
    is, so a sweep cannot remove it midway (and removes it if the probe is
    killed). Where no probe can be made (a read-only volume), the volume is taken
    to fold: checking names costs time, not checking them could cost data.
    Raises :class:`~sessionstore_file.locking.LockBusy` if the lock is held.
    """
    probe = temp_name() + "-probe"
    with locked(dir_fd):
        try:
            os.close(
                os.open(
                    probe,
                    os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                    0o600,
                    dir_fd=dir_fd,
                )
            )
        except OSError:
            return True
        try:
            os.stat(probe.upper(), dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            return False
        finally:
            with suppress(OSError):
                os.unlink(probe, dir_fd=dir_fd)
        return True


def stored_as(dir_fd: int, name: str, inode: int) -> str | None:
    """How the open directory ``dir_fd`` of a folding volume spells the entry that a
    lookup of ``name`` found, whose inode number is ``inode``: ``name`` itself when
    stored so (in any Unicode normalization), else the other spelling; ``None`` if
    the entry is gone (removed or replaced meanwhile).

    The entry is found by its inode, not by a case folding of our own: volumes fold
    by their own rules (NTFS upper-cases by a table, so a dotless i finds ``i``,
    which Unicode case folding keeps apart). Case folding is the fallback for a
    volume whose directory listings carry no usable inode numbers.
    """
    if name in os.listdir(dir_fd):
        return name  # the common case, decided in C
    wanted = unicodedata.normalize("NFC", name)
    folded = None
    with os.scandir(dir_fd) as entries:
        for entry in entries:
            if entry.inode() == inode:
                return name if unicodedata.normalize("NFC", entry.name) == wanted else entry.name
            if folded is None and unicodedata.normalize("NFC", entry.name).casefold() == (
                wanted.casefold()
            ):
                folded = entry.name
    return folded
