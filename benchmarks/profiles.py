"""How much work a run does: the full run (a few minutes) or the smoke run (seconds)."""

from __future__ import annotations

import attrs

LOOPS = ("asyncio", "trio")


@attrs.frozen
class Profile:
    name: str
    rounds: int
    """Interleaved rounds per comparison; the median over rounds is reported."""
    file_writes: int
    """Durable writes per variant per round."""
    file_reads: int
    memory_pairs: int
    """Memory store+load pairs per variant per round."""
    cloud_ops: int
    json_small: int
    """2 KB encode+decode per variant per round (1 MB: a hundredth, at least 2)."""
    scale_sizes: tuple[int, ...]
    """Session counts for the first-page figure; the last is the big one."""
    purge_expired: int
    """Expired sessions among the biggest tree for purge_expired."""
    concurrent_local: int
    concurrent_cloud: int
    cloud_purge: int
    """Expired sessions per purge_expired on each emulator, behind added latency."""
    startup_runs: int

    @property
    def scale(self) -> int:
        return self.scale_sizes[-1]


FULL = Profile(
    name="full",
    rounds=15,
    file_writes=40,
    file_reads=200,
    memory_pairs=2000,
    cloud_ops=20,
    json_small=2000,
    scale_sizes=(1_000, 10_000, 100_000),
    purge_expired=1_000,
    concurrent_local=1_000,
    concurrent_cloud=200,
    cloud_purge=32,
    startup_runs=11,
)

SMOKE = Profile(
    name="smoke",
    rounds=3,
    file_writes=4,
    file_reads=10,
    memory_pairs=50,
    cloud_ops=2,
    json_small=50,
    scale_sizes=(100, 300, 1_000),
    purge_expired=10,
    concurrent_local=50,
    concurrent_cloud=10,
    cloud_purge=4,
    startup_runs=3,
)

PROFILES = {profile.name: profile for profile in (FULL, SMOKE)}
