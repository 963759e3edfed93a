"""Why a goal is missed, where profiling found a reason that no small fix removes.

Keyed by figure key prefix; the page lists the reason under the table when a run
misses a goal whose key starts with one of these. Keep each to what was measured.
"""

from __future__ import annotations

WHY: dict[str, str] = {
    "file.store.one_task": (
        "Borderline (0.88-0.99x from run to run). The file backend's hook alone "
        "reaches ~0.93-0.96x the raw write (the hook_alone row): in its one "
        "worker-thread call it also opens the bucket and session directories without "
        "following symlinks, takes the directory's flock, checks the precondition, "
        "and fstats the new file for its "
        "version (setting its mtime only when the kernel's coarse stamp does not pass "
        "the replaced version's). The store's own work on the loop (envelope, "
        "NaN-safe encode, names, metadata) is ~10 us warm but ~30 us measured right "
        "after the fsync'ing hop, on cold caches."
    ),
    "file.store.sixteen_tasks": (
        "Raw durable writes overlap their fsyncs across threads, and with 16 threads "
        "on 2 cores every system call is a GIL hand-off worth ~10 us of throughput "
        "(ten extra fstat calls slowed a raw durable write in 16 plain threads from "
        "185 to 281 us a write). The backend's write makes 15 system calls to the raw "
        "write's 8: the symlink-safe walk (two opens and two closes), the flock and "
        "its release, an lstat of the current file (precondition and mtime order), an "
        "fstat of the new one (its version) and a random temporary name. Cutting the "
        "still-linked check (two calls) took it from 281 to 246 us against raw's 158 "
        "in 16 plain threads. Raw writes through anyio's thread hop (the raw_hops row) "
        "already lose much of the overlap, more on trio, whose hop costs more with 16 "
        "tasks waiting: a bare hop took 107-135 us a call against asyncio's 71-78, raw "
        "durable writes through it 444-496 us against 333-356. The store's work on "
        "the loop (envelope, encode, metadata) takes the rest. Swings with the "
        "machine's fsync load."
    ),
    "file.load.one_task": (
        "The symlink-safe walk opens (and closes) two directories before the file "
        "(the hook_alone row is the backend's share); on the loop the envelope is decoded "
        "and checked, the names validated and the metadata built. Since 2026-12-05 "
        "the hop is sessionstore.threads.run_blocking (~4.5 us more than a bare "
        "anyio hop: a Future's claim and completion ~2 us, the worker's name ~1 us, "
        "a cancellation check after the hop ~1 us), so that asyncio's own "
        "task.cancel() can no longer return before a write lands: 0.73-0.79x, where "
        "it was 0.85-0.87x. Correctness first; a lighter claim than "
        "concurrent.futures.Future could win back ~2 us."
    ),
    "memory.pair.ratio": (
        "The baseline is orjson.dumps + orjson.loads of a dict value (~5 us). The "
        "codec alone (envelope, MessagePack probe for NaN, typed decode) takes ~10 us "
        "of a pair, so 0.4x (12.5 us a pair) would leave ~2 us for two calls through "
        "the store and the backend, validation and two attrs objects: ~9 us measured, "
        "spread thin (no single step above ~1.5 us under a profiler). Caching the "
        "validated paths saved ~1 us a pair but made a purge hold more memory, so it "
        "was taken out again. Since 2026-12-04 each memory operation also passes one "
        "checkpoint (a yield to the event loop, as any storage round trip makes), so "
        "that it can be cancelled and cannot starve other tasks: ~3 us a call on "
        "asyncio and ~7 us on trio here, two per pair."
    ),
    "memory.pair.time": (
        "Per pair: encode with the envelope and the NaN probe (~6 us), typed decode "
        "(~4.7 us), the backend (~3 us, attrs objects included), store and storage "
        "(~4 us): within a few percent of 20 us, on either side of it with the host "
        "the machine runs on (19.2 us and 22.1 us for the same code on two hosts; "
        "28-30 us on a slower one, where the bare codec pair alone took ~13 us). "
        "The two checkpoints that make memory operations cancellable add ~6 us on "
        "asyncio and ~14 us on trio (see memory.pair.ratio): correct behaviour in "
        "the backend applications test with comes first."
    ),
    "file.list_all": (
        "Pages are ordered, so a listing sorts: os.scandir + sorting the names alone "
        "is already 1.5-1.9x the scan (the sorted_floor row). The rest is the "
        "backend's entries (name/ per directory, ~0.2x) and the facade's check of "
        "every id: one regular expression over the whole page and one split (~0.5x; "
        "a match per name took ~0.8x, and the listing 2.9-3.1x the scan)."
    ),
    "file.first_page": (
        "Pages are ordered, so the first page costs a full scan; at small sizes the "
        "library's fixed cost (hop, facade) weighs more than the scan."
    ),
    "gcs.store": (
        "Measured apart, the gcs backend's own hook takes what gcsfs takes for the same "
        "request (0.95-1.04x); the rest is the facade's per-operation cost (envelope, "
        "codec, names, metadata: ~50-70 us on a loaded machine), borderline "
        "against the emulator's ~0.5 ms round trip: from run to run it falls on either "
        "side of 1.2."
    ),
    "gcs.load": (
        "As for gcs.store: the hook alone matches gcsfs (0.95-1.04x); the facade's "
        "per-operation cost makes the difference."
    ),
    "startup.extra": (
        "Listing imports no backend and none of pluggy, attrs, cattrs, msgspec, orjson "
        "or anyio: the extra time is importlib_metadata, whose own import (email "
        "parser, pathlib, zipfile, csv) takes 34 ms on a slow host and the stdlib's "
        "importlib.metadata as long, plus ~11 ms to read the 56 distributions' entry "
        "points. Reading them by hand is what importlib_metadata is for. The ratio to "
        "a bare anyio import (~6x) holds across hosts; the extra was 47 ms on a faster "
        "one (met) and 61-73 ms on a slower one."
    ),
    "json.small": (
        "The bare orjson + msgspec pair is the ceiling (~5.5x, the .bare row). The "
        "codec adds the envelope (~0.3 us: msgspec writes it from its Struct and the "
        "state's JSON is spliced in; building a dict of isoformat strings for orjson "
        "cost ~1.5 us, and 2.9x became 3.4-3.6x) and the NaN check: orjson writes NaN and "
        "infinities as null, so whenever null appears the state is also encoded to "
        "MessagePack (C, ~1.4 us) and searched for a non-finite float (~0.9 us). "
        "Without it a NaN would be stored as null: data lost without an error."
    ),
    "json.large": (
        "At 1 MB even the bare pair (.bare row) stays under 3.5x here: decoding "
        "~40,000 objects makes the garbage collector run, as it does for json.loads. "
        "The NaN check's MessagePack probe adds about an orjson encode on top. "
        "Pausing the collector during the decode measured 4.1x, but it is not done: "
        "gc.disable() is process-wide, and a library toggling it could undo an "
        "application's own gc.disable() made meanwhile in another thread."
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
