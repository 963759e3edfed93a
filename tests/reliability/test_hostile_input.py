"""Hostile session ids and filenames (hypothesis): separators, ``..``, NUL and
other control characters, percent-encoding, Windows device names, lookalike
slashes, lone surrogates, very long names, leading and trailing dots and spaces.

Each (id, filename) pair is either refused with InvalidSessionIdError by every
operation before any I/O (no request reaches the emulator, nothing changes on
disk), or stored and read back as exactly ``<bucket>/<id>/<filename>``: on file
nothing appears anywhere else under the root, on the emulators no object outside
``<id>/`` (the bucket listed directly). The id, used as a listing prefix, is
refused or lists nothing of the emptied bucket.

The default suite runs a few hundred pairs per backend, from a fixed seed; the full
campaign (``--run-slow``) runs over 10,000 (memory and file take the bulk).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from emulators.proxy import Proxy
from sessionstore import InvalidSessionIdError, SessionStore
from tests.reliability.conftest import Figures
from tests.reliability.targets import BACKENDS, FileTarget, Target, target_fixture

FRAGMENTS = [
    *("/", "\\", "..", ".", "./", "../", "..\\", "~", "\x00", "\x01", "\x1f", "\x7f", "\x85"),
    *("%2e%2e", "%2E%2E%2F", "%2f", "%5c", "%00", "%", "%25", "%252e", "+", "#", "?", "&", "="),
    *("CON", "con", "PRN", "AUX", "NUL", "nul.txt", "COM1", "com9.json", "LPT1", "COM¹", "LPT³"),
    *(" ", "\t", "\n", "\r", "\u00a0", "\u2028", "\u2029", "\u200b", "\u202e", "\ufeff"),
    *("\uff0f", "\u2215", "\u2044", "\uff3c", "\u29f5", "\u3000", "\uff0e"),  # lookalikes
    *("\ud800", "\udfff", "e\u0301", "\u00e9", "\u0130", "\u00df", "\U0001f600", "\ufdfa"),
    *("*", ":", "<", ">", "|", '"', "'", "$", "{", "}", "[", "]", "`", "@", "!", ";", ","),
    *("state.json", ".json", ".tmp", ".lock", "a", "-", "_", "0", "bucket", "fuzz"),
]
"""Pieces that break paths, URLs or file systems somewhere."""

PLAUSIBLE = [
    *("%2e%2e", "%2E%2E%2F", "%2f", "%5c", "%00", "%", "%25", "%252e", "+", "#", "?", "&", "="),
    *("\uff0f", "\u2215", "\u2044", "\uff3c", "\u29f5", "\u3000", "\uff0e", "\u00a0"),
    *("e\u0301", "\u00e9", "\u0130", "\u00df", "\U0001f600", "\ufdfa", "\u200b", "\u202e"),
    *("*", ":", "<", ">", "|", '"', "'", "$", "{", "}", "[", "]", "`", "@", "!", ";", ","),
    *("..", ".", " ", "~", "-", "_", "0", "CON", "nul", "COM1", ".json", ".tmp", "state.json"),
]
"""Pieces that do not make a name invalid after a leading letter, as long as the
name does not end with a dot or a space: percent-encodings, lookalike slashes, and
characters some file systems or URLs treat specially."""

plausible_names = st.builds(
    lambda head, pieces, tail: (head + "".join(pieces))[:200] + tail,
    st.sampled_from(["a", "S", "é", "7", "~", "%"]),
    st.lists(
        st.one_of(
            st.sampled_from(PLAUSIBLE),
            st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), max_size=4),
        ),
        max_size=8,
    ),
    st.sampled_from(["", "z", ".json", "%", "\u00e9"]),
)

hostile_names = st.one_of(
    st.text(max_size=20),
    st.lists(
        st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=4)), min_size=1, max_size=6
    ).map("".join),
    st.builds(
        lambda piece, count, tail: piece * count + tail,
        st.sampled_from(["a", "é", "\U0001f600", ".", " ", "x/", "ab."]),
        st.integers(40, 300),
        st.sampled_from(["", ".", " ", "a", "/"]),
    ),
    st.sampled_from(["", ".", "..", "...", " ", " a", "a ", "a.", ".a", "CON", "aux.json"]),
)

names = st.one_of(hostile_names, plausible_names, plausible_names, plausible_names, plausible_names)
"""Half the draws plausible (one_of flattens hostile_names' four branches), so
about a third of the pairs are stored rather than refused."""

SEED = 20261125
"""A fixed seed: every run draws the same pairs (derandomize=True would, too, but
draws mostly the simplest names first)."""

ROUNDS = {"local": 250, "cloud": 40}
"""Pairs per backend and event loop in the default suite (memory and file: local)."""
FULL_ROUNDS = {"local": 5000, "cloud": 500}
"""Pairs per backend and event loop with --run-slow: (2 x 5,000 + 3 x 500) x 2 loops
= 23,000 pairs, 46,000 names."""


@pytest.fixture(params=BACKENDS)
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    yield from target_fixture(request, tmp_path)


class Fuzz:
    """One store over ``target`` (through a request-counting proxy on the
    emulators), and the tally of what the pairs did."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.proxy = Proxy(target.endpoint) if target.endpoint else None
        self.store: SessionStore = target.make_store(self.proxy.url if self.proxy else None)
        self.tally: Counter[str] = Counter()

    def close(self) -> None:
        if self.proxy is not None:
            self.proxy.close()

    def requests(self) -> int:
        return self.proxy.count() if self.proxy else 0

    def tree(self) -> list[str]:
        """Every path under the file backend's root (empty for other backends)."""
        if not isinstance(self.target, FileTarget):
            return []
        root = self.target.root
        return sorted(
            os.path.relpath(os.path.join(top, name), root)
            for top, dirs, files in os.walk(root)
            for name in dirs + files
        )


@pytest.fixture
async def fuzz(target: Target, figures: Figures, anyio_backend: str) -> Any:
    fuzz = Fuzz(target)
    try:
        async with fuzz.store:
            yield fuzz
    finally:
        fuzz.close()
    figures.record(
        "fuzz",
        f"{target.kind} ids and filenames ({anyio_backend})",
        pairs=fuzz.tally["refused"] + fuzz.tally["stored"],
        names=2 * (fuzz.tally["refused"] + fuzz.tally["stored"]),
        refused=fuzz.tally["refused"],
        stored=fuzz.tally["stored"],
        prefixes_refused=fuzz.tally["prefix refused"],
        prefixes_listed=fuzz.tally["prefix listed"],
        escaped=0,
    )


async def check_pair(fuzz: Fuzz, session_id: str, filename: str) -> None:
    """Refused everywhere with no I/O, or stored exactly at ``<id>/<filename>``."""
    store, target = fuzz.store, fuzz.target
    state = {"id": session_id, "file": filename}
    requests, tree = fuzz.requests(), fuzz.tree()
    try:
        await store.store_session(session_id, state, filename)
    except InvalidSessionIdError:
        for operation in (
            lambda: store.load_session(session_id, filename),
            lambda: store.session_exists(session_id, filename),
            lambda: store.get_session_metadata(session_id, filename),
            lambda: store.update_session(session_id, lambda s: {}, filename),
            lambda: store.delete_session(session_id, filename),
        ):
            with pytest.raises(InvalidSessionIdError):
                await operation()
        assert fuzz.requests() == requests, "a refused name reached the server"
        assert fuzz.tree() == tree, "a refused name changed the disk"
        assert await target.names() == []
        fuzz.tally["refused"] += 1
        await check_prefix(fuzz, session_id)
        return
    path = f"{session_id}/{filename}"
    assert await target.names() == [path]
    if isinstance(target, FileTarget):
        bucket = target.bucket
        expected = [bucket, os.path.join(bucket, session_id), os.path.join(bucket, path)]
        assert fuzz.tree() == sorted(expected), "a file outside <bucket>/<id>/<filename>"
    assert await target.read(path) is not None
    assert await store.load_session(session_id, filename) == state
    assert await store.list_files(session_id) == [filename]
    assert await store.delete_session(session_id)
    assert await target.names() == []
    fuzz.tally["stored"] += 1
    await check_prefix(fuzz, session_id)


async def check_prefix(fuzz: Fuzz, prefix: str) -> None:
    """The same text as a listing prefix: refused, or an empty listing of the (now
    empty) bucket, never a listing of somewhere else."""
    try:
        listed = await fuzz.store.list_sessions(prefix)
    except InvalidSessionIdError:
        fuzz.tally["prefix refused"] += 1
    else:
        assert listed == []
        fuzz.tally["prefix listed"] += 1


def _settings(count: int) -> settings:
    return settings(
        max_examples=count,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


LOCAL = pytest.mark.parametrize("target", ["memory", "file"], indirect=True)
CLOUD = pytest.mark.parametrize("target", ["s3", "gcs", "azure"], indirect=True)


@LOCAL
@_settings(ROUNDS["local"])
@given(session_id=names, filename=names)
@seed(SEED)
async def test_hostile_names_local(fuzz: Fuzz, session_id: str, filename: str) -> None:
    """Memory and file: refused before any I/O, or stored exactly in place."""
    await check_pair(fuzz, session_id, filename)


@CLOUD
@_settings(ROUNDS["cloud"])
@given(session_id=names, filename=names)
@seed(SEED)
async def test_hostile_names_emulators(fuzz: Fuzz, session_id: str, filename: str) -> None:
    """s3, gcs, azure: refused with no request sent, or one object at <id>/<file>."""
    await check_pair(fuzz, session_id, filename)


@pytest.mark.slow
@LOCAL
@_settings(FULL_ROUNDS["local"])
@given(session_id=names, filename=names)
@seed(SEED)
async def test_hostile_names_local_full(fuzz: Fuzz, session_id: str, filename: str) -> None:
    """The full campaign on memory and file."""
    await check_pair(fuzz, session_id, filename)


@pytest.mark.slow
@CLOUD
@_settings(FULL_ROUNDS["cloud"])
@given(session_id=names, filename=names)
@seed(SEED)
async def test_hostile_names_emulators_full(fuzz: Fuzz, session_id: str, filename: str) -> None:
    """The full campaign on the emulators."""
    await check_pair(fuzz, session_id, filename)
