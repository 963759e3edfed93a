"""A volume that ignores case, as macOS's and Windows' do by default, for the file
backend's tests.

A FUSE file system passes every operation through to a source folder, but looks
each name up ignoring case, keeping names as first spelled. It folds as APFS does
(Unicode case folding, and normalization) or, with ``fold="upper"``, as NTFS does
(each character upper-cased by itself, no normalization: a dotless i finds ``i``).
It runs in a process of its own (``python -m emulators.folding_volume SOURCE
MOUNTPOINT FOLD``), mounted for as long as :func:`folding_volume` is open. Its
libfuse comes from the npm package ``fuse-shared-library-linux`` (``npm ci``
installs it, as it does Azurite) and its Python binding is ``mfusepy``.

Mounting needs a kernel with FUSE, ``/dev/fuse`` and the right to mount: where
those are missing, :class:`~emulators.EmulatorUnavailable` says so. That is the
host's choice, not a part we install, so the tests skip then, in CI too.
"""

from __future__ import annotations

import contextlib
import os
import platform
import subprocess
import sys
import time
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from emulators import ROOT, EmulatorUnavailable, stop

LIBFUSE = ROOT / "node_modules" / "fuse-shared-library-linux" / "libfuse" / "lib" / "libfuse.so"
"""libfuse 2, built for x86-64 Linux; elsewhere the system's libfuse is used, if any."""
MOUNT_TIMEOUT = 20.0
Fold = Literal["casefold", "upper"]
STATFS_FIELDS: tuple[str, ...] = ("f_bavail", "f_bfree", "f_blocks", "f_bsize", "f_favail")
STATFS_FIELDS += ("f_ffree", "f_files", "f_flag", "f_frsize", "f_namemax")


@contextlib.contextmanager
def folding_volume(source: Path, mountpoint: Path, fold: Fold = "casefold") -> Iterator[Path]:
    """Mount the folding view of ``source`` at ``mountpoint`` (both existing
    folders) and yield ``mountpoint``; unmount on exit."""
    if sys.platform != "linux" or not os.path.exists("/dev/fuse"):
        raise EmulatorUnavailable("a folding volume needs Linux with FUSE (/dev/fuse)")
    environment = dict(os.environ)
    if LIBFUSE.exists() and platform.machine() == "x86_64":
        environment["FUSE_LIBRARY_PATH"] = str(LIBFUSE)
    command = [sys.executable, "-m", "emulators.folding_volume", str(source), str(mountpoint), fold]
    with subprocess.Popen(
        command, cwd=ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    ) as process:
        try:
            _wait_until_mounted(process, mountpoint)
            yield mountpoint
        finally:
            stop(process)  # libfuse unmounts on SIGTERM
            if os.path.ismount(mountpoint):
                subprocess.run(["umount", "-l", str(mountpoint)], check=False)


def _wait_until_mounted(process: subprocess.Popen[bytes], mountpoint: Path) -> None:
    deadline = time.monotonic() + MOUNT_TIMEOUT
    while not os.path.ismount(mountpoint):
        if process.poll() is not None:
            output = process.stdout.read().decode(errors="replace") if process.stdout else ""
            raise EmulatorUnavailable(
                f"the folding volume could not be mounted (exit code {process.returncode}):"
                f" {output.strip()[-500:]}"
            )
        if time.monotonic() > deadline:
            raise EmulatorUnavailable(
                f"the folding volume was not mounted in {MOUNT_TIMEOUT:.0f} s"
            )
        time.sleep(0.02)


def _key(name: str, fold: Fold) -> str:
    """What the volume compares names by."""
    if fold == "upper":
        return "".join(c.upper() if len(c.upper()) == 1 else c for c in name)
    return unicodedata.normalize("NFC", name).casefold()


def _find(directory: str, name: str, fold: Fold) -> str:
    """The path in ``directory`` that ``name`` finds: itself if it exists, else an
    entry spelled otherwise that folds to the same, else itself (a new name)."""
    exact = os.path.join(directory, name)
    if os.path.lexists(exact):
        return exact
    with contextlib.suppress(OSError):
        wanted = _key(name, fold)
        for entry in os.listdir(directory):
            if _key(entry, fold) == wanted:
                return os.path.join(directory, entry)
    return exact


def _mode(entry: os.DirEntry[str]) -> int:
    return entry.stat(follow_symlinks=False).st_mode


def serve(source: str, mountpoint: str, fold: Fold) -> None:
    """Serve the folding view of ``source`` at ``mountpoint`` until unmounted or
    sent SIGTERM."""
    import mfusepy  # loads libfuse, so only in the server's process

    class Folding(mfusepy.Operations):
        use_ns = True  # times in nanoseconds

        def _real(self, path: str) -> str:
            real = source
            for name in path.split("/"):
                if name:
                    real = _find(real, name, fold)
            return real

        def getattr(self, path: str, fh: int | None = None) -> dict[str, Any]:
            status = os.lstat(self._real(path))
            fields = ("st_mode", "st_ino", "st_nlink", "st_uid", "st_gid", "st_size")
            times = ("st_atime_ns", "st_mtime_ns", "st_ctime_ns")
            return {
                **{field: getattr(status, field) for field in fields},
                **{field[:-3]: getattr(status, field) for field in times},
            }

        def readdir(self, path: str, fh: int) -> list[tuple[str, dict[str, int], int]]:
            # With use_ino each entry needs its inode number: 0 hides it.
            with os.scandir(self._real(path)) as entries:
                return [
                    (entry.name, {"st_ino": entry.inode(), "st_mode": _mode(entry)}, 0)
                    for entry in entries
                ]

        def mkdir(self, path: str, mode: int) -> None:
            os.mkdir(self._real(path), mode)

        def rmdir(self, path: str) -> None:
            os.rmdir(self._real(path))

        def unlink(self, path: str) -> None:
            os.unlink(self._real(path))

        def rename(self, old: str, new: str) -> None:
            os.rename(self._real(old), self._real(new))

        def chmod(self, path: str, mode: int) -> None:
            os.chmod(self._real(path), mode)

        def utimens(self, path: str, times: tuple[int, int] | None = None) -> None:
            if times is None:
                os.utime(self._real(path))
            else:
                os.utime(self._real(path), ns=times)

        def truncate(self, path: str, length: int, fh: int | None = None) -> None:
            os.truncate(self._real(path), length)

        def create(self, path: str, mode: int, fi: Any = None) -> int:
            return os.open(self._real(path), os.O_RDWR | os.O_CREAT | os.O_EXCL, mode)

        def open(self, path: str, flags: int) -> int:
            return os.open(self._real(path), flags & ~(os.O_CREAT | os.O_EXCL))

        def read(self, path: str, size: int, offset: int, fh: int) -> bytes:
            return os.pread(fh, size, offset)

        def write(self, path: str, data: bytes, offset: int, fh: int) -> int:
            return os.pwrite(fh, data, offset)

        def fsync(self, path: str, datasync: int, fh: int) -> None:
            os.fsync(fh)

        def fsyncdir(self, path: str, datasync: int, fh: int) -> None:
            fd = os.open(self._real(path), os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

        def release(self, path: str, fh: int) -> None:
            os.close(fh)

        def statfs(self, path: str) -> dict[str, int]:
            status = os.statvfs(self._real(path))
            return {field: getattr(status, field) for field in STATFS_FIELDS}

    mfusepy.FUSE(
        Folding(),
        mountpoint,
        foreground=True,
        use_ino=True,  # the source's inode numbers: the backend compares them
        hard_remove=True,  # unlink open files, no .fuse_hidden leftovers
        entry_timeout=0,  # the kernel caches no lookup: every one folds here
        attr_timeout=0,
        negative_timeout=0,
    )


if __name__ == "__main__":
    serve(sys.argv[1], sys.argv[2], "upper" if sys.argv[3] == "upper" else "casefold")
