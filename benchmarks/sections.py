"""The sections of a run, in the order they run: each fills its figures in ``Results``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from benchmarks import (
    cloud,
    concurrency,
    event_loops,
    json_codec,
    local_overhead,
    scale,
    startup,
)
from benchmarks.figures import Results
from benchmarks.profiles import Profile

Section = Callable[[Results, Profile, Path], None]

SECTIONS: dict[str, Section] = {
    "local": local_overhead.run,
    "loops": event_loops.run,
    "json": json_codec.run,
    "startup": startup.run,
    "scale": scale.run,
    "concurrency": concurrency.run,
    "cloud": cloud.run,
}
