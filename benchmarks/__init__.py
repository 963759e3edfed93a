"""Benchmarks of sessionstore: its cost over the raw storage it wraps, round trips per
operation, scale to 100k sessions, concurrency, start-up and the JSON codec.

Run everything with ``python3 dev.py bench`` (``--smoke`` for the tiny run CI does).
It writes ``benchmarks/results.json`` and regenerates ``docs/benchmarks.md``.

Every speed figure is a ratio against a baseline measured in the same run, the
variants interleaved round by round, the median reported (see :mod:`benchmarks.measure`).
"""
