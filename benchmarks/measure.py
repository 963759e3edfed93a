"""Interleaved, repeated timing: the only way figures are measured.

Each round runs every variant once, in an order that rotates from round to round, so
drift in the machine's load hits all variants alike. A ratio is computed per round
(between variants of that round) and the median of the per-round ratios is reported.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Awaitable, Callable, Mapping

Batch = Callable[[], float]
"""Runs a batch of operations; returns the seconds per operation."""
AsyncBatch = Callable[[], Awaitable[float]]


def timed(function: Callable[[], object], count: int) -> float:
    """Seconds per call of ``function`` over ``count`` calls."""
    start = time.perf_counter()
    for _ in range(count):
        function()
    return (time.perf_counter() - start) / count


def _orders(names: list[str], rounds: int) -> list[list[str]]:
    return [names[index % len(names) :] + names[: index % len(names)] for index in range(rounds)]


def interleave(variants: Mapping[str, Batch], rounds: int) -> dict[str, list[float]]:
    """Per-operation times of each variant, one sample per round."""
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for order in _orders(list(variants), rounds):
        for name in order:
            samples[name].append(variants[name]())
    return samples


async def ainterleave(variants: Mapping[str, AsyncBatch], rounds: int) -> dict[str, list[float]]:
    """:func:`interleave` for batches that run on the event loop."""
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for order in _orders(list(variants), rounds):
        for name in order:
            samples[name].append(await variants[name]())
    return samples


def speed_ratio(samples: Mapping[str, list[float]], subject: str, baseline: str) -> float:
    """Median over rounds of subject ops/s ÷ baseline ops/s (> 1: subject is faster)."""
    return statistics.median(
        base / sub for sub, base in zip(samples[subject], samples[baseline], strict=True)
    )


def time_ratio(samples: Mapping[str, list[float]], subject: str, baseline: str) -> float:
    """Median over rounds of subject time ÷ baseline time (> 1: subject is slower)."""
    return statistics.median(
        sub / base for sub, base in zip(samples[subject], samples[baseline], strict=True)
    )


def median(values: list[float]) -> float:
    return statistics.median(values)
