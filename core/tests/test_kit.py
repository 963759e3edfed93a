"""The conformance kit itself: it catches broken backends by contract clause,
covers every hook, and cannot be silently switched off."""

from __future__ import annotations

import inspect
import textwrap

import pytest

from sessionstore import hookspecs
from sessionstore.contract import HOOK_NAMES, OPTIONAL_HOOKS
from sessionstore.storage import Storage
from sessionstore.testing import BackendTests, override

BROKEN = {
    "wrong_bytes": """
        async def sessionstore_download(self, bucket, path):
            stored = await super().sessionstore_download(bucket=bucket, path=path)
            return StoredObject(data=stored.data + b"!", info=stored.info)
    """,
    "ignores_if_match": """
        async def sessionstore_upload(self, bucket, path, data, if_match, create_only):
            return await super().sessionstore_upload(
                bucket=bucket, path=path, data=data, if_match=None, create_only=create_only
            )
    """,
    "lists_temp_files": """
        async def sessionstore_list(self, bucket, prefix, cursor, limit):
            page = await super().sessionstore_list(
                bucket=bucket, prefix=prefix, cursor=cursor, limit=limit
            )
            return ListPage(entries=(*page.entries, prefix + ".tmp-1"), cursor=page.cursor)
    """,
}


def run_kit(
    pytester: pytest.Pytester, name: str, methods: str, preamble: str = ""
) -> pytest.RunResult:
    """Install a backend derived from the memory backend with ``methods`` replaced,
    as a real distribution with an entry point, and run the kit against it."""
    module = f"kit_{name}_backend"
    body = textwrap.indent(textwrap.dedent(methods), "    ").replace(
        "    async def", "    @hookimpl\n    async def"
    )
    pytester.makepyfile(
        **{
            module: "from sessionstore import hookimpl, ListPage, StoredObject\n"
            "from sessionstore_memory import MemoryBackend\n\n"
            + preamble
            + "class Backend(MemoryBackend):\n"
            + body,
            "test_kit_run": f"""
                import pytest
                from sessionstore import SessionStore
                from sessionstore.testing import BackendTests

                class TestIt(BackendTests):
                    @pytest.fixture
                    def store(self):
                        return SessionStore(backend="{name}", bucket="kit-tests")
            """,
        }
    )
    info = pytester.mkdir(f"{module}-1.0.dist-info")
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[sessionstore.backends]\n{name} = {module}:Backend\n")
    pytester.syspathinsert()
    return pytester.runpytest_inprocess("-p", "no:cacheprovider", "-q", "-k", "not 10MB")


@pytest.mark.parametrize(
    ("name", "failing"),
    [
        ("wrong_bytes", "test_round_trip_bytes"),
        ("ignores_if_match", "test_if_match"),
        ("lists_temp_files", "test_list_directories_and_objects"),
    ],
)
def test_broken_backend_fails_the_clause_it_breaks(
    pytester: pytest.Pytester, name: str, failing: str
) -> None:
    result = run_kit(pytester, name, BROKEN[name])
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) >= 2  # the clause, on asyncio and on trio
    result.stdout.fnmatch_lines([f"FAILED *::TestIt::{failing}*"])


def test_wrong_bytes_failure_says_what_went_wrong(pytester: pytest.Pytester) -> None:
    result = run_kit(pytester, "wrong_bytes", BROKEN["wrong_bytes"])
    result.stdout.fnmatch_lines(["*sessionstore_download returned different bytes*"])


def recording_methods() -> str:
    """Hookimpls that note each hook called, then defer to the memory backend."""
    methods = []
    for hook in HOOK_NAMES:
        params = list(inspect.signature(getattr(hookspecs, hook)).parameters)
        passed = ", ".join(f"{p}={p}" for p in params)
        inherited = "None" if hook in OPTIONAL_HOOKS else f"await super().{hook}({passed})"
        methods.append(
            f"async def {hook}(self{''.join(', ' + p for p in params)}):\n"
            f"    CALLED.add({hook!r})\n"
            f"    return {inherited}\n"
        )
    return "\n".join(methods)


def test_a_correct_backend_passes_and_every_hook_is_exercised(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import kit_recording_backend

        def pytest_terminal_summary(terminalreporter):
            terminalreporter.write_line(f"HOOKS-CALLED {sorted(kit_recording_backend.CALLED)}")
        """
    )
    result = run_kit(pytester, "recording", recording_methods(), preamble="CALLED = set()\n")
    assert result.ret == 0
    assert result.parseoutcomes().get("failed", 0) == 0
    result.stdout.fnmatch_lines([f"HOOKS-CALLED {sorted(HOOK_NAMES)}"])


def test_overriding_a_kit_test_without_a_reason_fails_at_import() -> None:
    with pytest.raises(TypeError, match="replaces a sessionstore conformance test"):

        class TestSilencer(BackendTests):
            async def test_if_match(self, storage: Storage) -> None:  # "disabled"
                pass


def test_override_with_a_reason_is_allowed() -> None:
    class TestHonest(BackendTests):
        @override("the service has no conditional deletes; see issue 12")
        async def test_conditional_delete(self, storage: Storage) -> None:
            pass

    assert "test_conditional_delete" in vars(TestHonest)
    with pytest.raises(ValueError, match="needs a reason"):
        override(" ")
