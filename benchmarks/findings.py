"""Why a goal is missed, where profiling found a reason that no small fix removes.

Keyed by figure key prefix; the page lists the reason under the table when a run
misses a goal whose key starts with one of these. Keep each to what was measured.
"""

from __future__ import annotations

WHY: dict[str, str] = {
    "file.store.one_task": (
        "In its one worker-thread call the library also opens the bucket and session "
        "directories one level at a time without following symlinks, takes the "
        "directory's flock, checks the precondition and stamps the mtime forward "
        "(utime + fstat): about 0.9x the raw write there. On the loop, building the "
        "envelope, encoding, validating the names and the metadata add ~30 us more."
    ),
    "file.store.sixteen_tasks": (
        "Raw durable writes overlap their fsyncs in 16 threads (~1.5x here); the "
        "library's write makes about twice the system calls (directory walk, flock, "
        "precondition stat, utime, fstat), each releasing and retaking the GIL, and "
        "with 16 threads those hand-offs (futex waits: 2.1x the raw count under "
        "strace) eat the overlap. Varies with the machine's fsync load: 2.2x in "
        "another full run on this machine."
    ),
    "file.load.one_task": (
        "The symlink-safe walk opens two directories before the file, and on the "
        "loop the envelope is decoded and checked, the names validated and the "
        "metadata built: ~15-30 us against a baseline of a thread hop and a 2 KB read."
    ),
    "memory.pair": (
        "Per store + load pair: encode + decode with the envelope and the NaN check "
        "(~12 us, where bare orjson is ~5 us), name validation (~2 us), the pluggy hook "
        "call and error mapping (~4 us), metadata objects with validators (~4 us), and "
        "the backend itself (~5 us). No single part is big enough to remove the miss."
    ),
    "file.list_all": (
        "os.scandir returns names unsorted; list_sessions also sorts them (in the "
        "worker thread) and validates every id (on the loop), each about as long as "
        "the scan itself at 100k sessions."
    ),
    "file.first_page": (
        "Pages are ordered, so the first page costs a full scan; at small sizes the "
        "library's fixed cost (hop, facade) weighs more than the scan."
    ),
    "gcs.store": (
        "Measured apart, the gcs backend's own hook takes what gcsfs takes for the same "
        "request (0.95-1.04x); the rest is the facade's per-operation cost (envelope, "
        "codec, names, metadata, pluggy: ~50-70 us on a loaded machine), borderline "
        "against the emulator's ~0.5 ms round trip: from run to run it falls on either "
        "side of 1.2."
    ),
    "gcs.load": (
        "As for gcs.store: the hook alone matches gcsfs (0.95-1.04x); the facade's "
        "per-operation cost makes the difference."
    ),
    "startup.extra": (
        "The dependencies' own import time: cattrs (~45 ms with typing_extensions), "
        "attrs (~30 ms), importlib_metadata (~15 ms), msgspec (~12 ms), pluggy (~10 ms); "
        "anyio + attrs + pluggy + orjson alone already exceed 50 ms over anyio here."
    ),
    "json.small": (
        "The envelope (header dict and ISO times out, validated back in) and the NaN "
        "check (a decode and compare whenever null appears) cost about as much as the "
        "bare encode + decode; the .bare row is the ceiling without them."
    ),
    "json.large": (
        "The NaN check decodes and compares the output whenever null appears; the "
        ".bare row is the ceiling without it."
    ),
    "json.large_off_loop": (
        "Not done on purpose: orjson and msgspec hold the GIL while they run, so "
        "encoding in a worker thread does not free the loop (the stall row is ~1x) "
        "and adds a thread hop."
    ),
}


def why(key: str) -> str | None:
    """The recorded reason a goal of figure ``key`` is missed, if any."""
    for prefix, reason in WHY.items():
        if key == prefix or key.startswith(prefix + "."):
            return reason
    return None
