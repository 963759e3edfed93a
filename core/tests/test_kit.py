"""The conformance kit itself: it catches broken backends by contract clause,
covers every hook, and cannot be silently switched off."""

from __future__ import annotations

import inspect
import re
import textwrap

import pytest

from sessionstore import hookspecs
from sessionstore.contract import HOOK_NAMES, OPTIONAL_HOOKS
from sessionstore.objects import ListPage
from sessionstore.storage import Storage
from sessionstore.testing import BackendTests, all_pages, override
from sessionstore.testing.listing import MAX_PAGES, ListPageFn

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
    "not_fork_safe": """
        _parent = __import__("os").getpid()  # as a client with its own IO thread does

        async def sessionstore_download(self, bucket, path):
            if __import__("os").getpid() != self._parent:
                raise RuntimeError("This class is not fork-safe")
            return await super().sessionstore_download(bucket=bucket, path=path)
    """,
    "sweeps_live_writes": """
        pending = {}  # a write's temporary copy, until the write completes

        async def sessionstore_upload(self, bucket, path, data, if_match, create_only):
            key = object()
            self.pending[key] = data
            await anyio.sleep(0.01)
            if self.pending.pop(key, None) is None:
                raise FileNotFoundError("the temporary copy of this write was swept")
            return await super().sessionstore_upload(
                bucket=bucket, path=path, data=data, if_match=if_match, create_only=create_only
            )

        async def sessionstore_sweep(self, bucket):
            await anyio.lowlevel.checkpoint()
            removed = len(self.pending)
            self.pending.clear()  # whether or not a writer still needs them
            return removed
    """,
    "file_work_on_the_loop": """
        async def sessionstore_download(self, bucket, path):
            await anyio.lowlevel.checkpoint()
            with open(__file__, "rb"):  # a blocking read on the event loop's thread
                pass
            return await super().sessionstore_download(bucket=bucket, path=path)
    """,
    "sweep_returns_none": """
        async def sessionstore_sweep(self, bucket):
            return None
    """,
    "sweep_returns_true": """
        async def sessionstore_sweep(self, bucket):
            await anyio.lowlevel.checkpoint()
            return True  # "swept", not how many
    """,
    "never_yields": """
        async def sessionstore_exists(self, bucket, path):
            return self._lookup(bucket, path) is not None
    """,
    "writes_before_yielding": """
        async def sessionstore_upload(self, bucket, path, data, if_match, create_only):
            with anyio.CancelScope(shield=True):  # the write happens, cancelled or not
                info = await super().sessionstore_upload(
                    bucket=bucket, path=path, data=data, if_match=if_match, create_only=create_only
                )
            await anyio.lowlevel.checkpoint()
            return info

        async def sessionstore_delete(self, bucket, paths, if_match):
            with anyio.CancelScope(shield=True):
                await super().sessionstore_delete(bucket=bucket, paths=paths, if_match=if_match)
            await anyio.lowlevel.checkpoint()
    """,
    "optional_steps_never_yield": """
        async def sessionstore_init(self, bucket):
            return None  # buckets appear on first write

        async def sessionstore_sweep(self, bucket):
            return 0

        async def sessionstore_describe(self, bucket):
            return {"location": "here"}
    """,
    "describe_returns_a_number": """
        async def sessionstore_describe(self, bucket):
            await anyio.lowlevel.checkpoint()
            return {"objects": 3}
    """,
    "describe_is_blank": """
        async def sessionstore_describe(self, bucket):
            await anyio.lowlevel.checkpoint()
            return {"location": " "}
    """,
    "download_returns_bytes": """
        async def sessionstore_download(self, bucket, path):
            return (await super().sessionstore_download(bucket=bucket, path=path)).data
    """,
    "int_version": """
        async def sessionstore_stat(self, bucket, path):
            info = await super().sessionstore_stat(bucket=bucket, path=path)
            return attrs.evolve(info, version=int(info.version))
    """,
    "ignores_cursor": """
        async def sessionstore_list(self, bucket, prefix, cursor, limit):
            return await super().sessionstore_list(
                bucket=bucket, prefix=prefix, cursor=None, limit=limit
            )
    """,
    "unordered_pages": """
        async def sessionstore_list(self, bucket, prefix, cursor, limit):
            page = await super().sessionstore_list(
                bucket=bucket, prefix=prefix, cursor=cursor, limit=limit
            )
            return ListPage(entries=tuple(reversed(page.entries)), cursor=page.cursor)
    """,
}


SYNC_STORE = """
    @pytest.fixture
    def store(self):
        return SessionStore(backend="{name}", bucket="kit-tests")
"""

ASYNC_STORE = """
    @pytest.fixture
    async def store(self):
        async with SessionStore(backend="{name}", bucket="kit-tests") as store:
            await store.store_session("warm-up", {{}})  # used on pytest's event loop
            await store.delete_session("warm-up")
            yield store
"""
"""An async ``store`` fixture, as the guide allows, using its store before the test."""

OPTIONAL_RETURNS = {
    "sessionstore_close": "None",
    "sessionstore_sweep": "await anyio.lowlevel.checkpoint() or 0",  # a checkpoint, as all
}
"""What the memory backend, which has neither of these optional hooks (it has
``sessionstore_describe``), would have them return."""


def run_kit(
    pytester: pytest.Pytester,
    name: str,
    methods: str,
    preamble: str = "",
    base: str = "MemoryBackend",
    store_fixture: str = SYNC_STORE,
    select: str = "not 10MB",
) -> pytest.RunResult:
    """Install a backend derived from the memory backend with ``methods`` replaced,
    as a real distribution with an entry point, and run the kit against it (the
    tests ``select`` picks, with ``store_fixture`` formatted with the backend's name)."""
    module = f"kit_{name}_backend"
    body = textwrap.indent(textwrap.dedent(methods), "    ").replace(
        "    async def", "    @hookimpl\n    async def"
    )
    pytester.makepyfile(
        **{
            module: "import anyio\nimport anyio.from_thread\nimport anyio.lowlevel\n"
            "import anyio.to_thread\nimport attrs\n"
            "from sessionstore import hookimpl, ListPage, StoredObject\n"
            "from sessionstore_memory import MemoryBackend\n\n"
            + preamble
            + f"class Backend({base}):\n"
            + body,
            "test_kit_run": "import pytest\n"
            "from sessionstore import SessionStore\n"
            "from sessionstore.testing import BackendTests\n\n"
            "class TestIt(BackendTests):\n"
            + textwrap.indent(textwrap.dedent(store_fixture.format(name=name)), "    "),
        }
    )
    info = pytester.mkdir(f"{module}-1.0.dist-info")
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[sessionstore.backends]\n{name} = {module}:Backend\n")
    pytester.syspathinsert()
    return pytester.runpytest_inprocess("-p", "no:cacheprovider", "-q", "-k", select)


@pytest.mark.parametrize(
    ("name", "failing"),
    [
        ("wrong_bytes", "test_round_trip_bytes"),
        ("ignores_if_match", "test_if_match"),
        ("lists_temp_files", "test_list_directories_and_objects"),
        ("not_fork_safe", "test_a_store_used_before_fork_works_in_both_processes"),
        ("never_yields", "test_every_hook_is_a_checkpoint"),
        ("sweep_returns_none", "test_sweep_keeps_every_object"),
        ("sweeps_live_writes", "test_sweep_spares_writes_in_progress"),
        ("file_work_on_the_loop", "test_no_file_work_on_the_event_loop"),
    ],
)
def test_broken_backend_fails_the_clause_it_breaks(
    pytester: pytest.Pytester, name: str, failing: str
) -> None:
    result = run_kit(pytester, name, BROKEN[name])
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) >= 2  # the clause, on asyncio and on trio
    result.stdout.fnmatch_lines([f"FAILED *::TestIt::{failing}*"])


@pytest.mark.parametrize(
    ("name", "failing", "message"),
    [
        (
            "download_returns_bytes",
            "test_hooks_return_the_documented_types",
            "*sessionstore_download returned bytes *not a sessionstore.StoredObject*",
        ),
        (
            "int_version",
            "test_hooks_return_the_documented_types",
            "*sessionstore_stat returned an ObjectInfo whose version is int *not a non-empty str*",
        ),
        (
            "ignores_cursor",
            "test_list_pages_have_no_duplicates_or_gaps",
            "*sessionstore_list returned a ListPage with the cursor it was given*",
        ),
        (
            "sweep_returns_none",
            "test_purge_expired",  # Storage.sweep reads None as 0: the hook's return shows it
            "*sessionstore_sweep returned NoneType None, not an int. It must return an int, how "
            "many entries it removed*",
        ),
        (
            "sweep_returns_true",
            "test_hooks_return_the_documented_types",
            "*sessionstore_sweep returned bool True, not an int*",
        ),
        (
            "describe_returns_a_number",
            "test_hooks_return_the_documented_types",
            "*sessionstore_describe returned a dict whose 'objects' is int 3, not a str*",
        ),
        (
            "describe_is_blank",
            "test_describe_says_where_without_secrets",
            "*'location' is empty*",
        ),
        (
            "unordered_pages",
            "test_list_pages_have_no_duplicates_or_gaps",
            "*sessionstore_list: page 1 (cursor=None) is not in ascending order*",
        ),
    ],
)
def test_a_hook_breaking_the_contract_fails_with_the_reason(
    pytester: pytest.Pytester, name: str, failing: str, message: str
) -> None:
    """A wrong return type or a cursor that never ends fails (rather than hanging
    or raising an AttributeError later) with the hook's name and what is wrong."""
    result = run_kit(pytester, name, BROKEN[name])
    result.stdout.fnmatch_lines([f"FAILED *::TestIt::{failing}*"])
    result.stdout.fnmatch_lines([message])


def delegating_methods() -> str:
    """Required hookimpls that defer to a MemoryBackend held by the instance."""
    methods = []
    for hook in HOOK_NAMES:
        if hook in OPTIONAL_HOOKS:
            continue
        params = list(inspect.signature(getattr(hookspecs, hook)).parameters)
        passed = ", ".join(f"{p}={p}" for p in params)
        methods.append(
            f"async def {hook}(self{''.join(', ' + p for p in params)}):\n"
            f"    return await self.impl.{hook}({passed})\n"
        )
    return "\n".join(methods)


@pytest.mark.parametrize(
    ("name", "hooks", "message"),
    [
        (
            "never_yields",
            ["exists"],
            "*sessionstore_exists returned in a cancelled scope without yielding*",
        ),
        (
            "writes_before_yielding",
            ["upload", "delete"],
            "*sessionstore_upload changed storage before it raised the cancellation*",
        ),
        (
            "optional_steps_never_yield",
            ["init", "sweep", "describe"],
            "*sessionstore_init returned in a cancelled scope without yielding*",
        ),
    ],
)
def test_a_hook_that_is_no_checkpoint_fails_for_that_hook_only(
    pytester: pytest.Pytester, name: str, hooks: list[str], message: str
) -> None:
    """Each hook is called in a cancelled scope: one that returns without yielding,
    or changes storage before its first checkpoint, fails for that hook alone."""
    result = run_kit(pytester, name, BROKEN[name], select="test_every_hook_is_a_checkpoint")
    failed = [f"FAILED *[[]*-{hook}[]]*" for hook in hooks]
    result.stdout.fnmatch_lines(failed, consecutive=False)
    result.stdout.fnmatch_lines([message])
    assert result.parseoutcomes().get("failed") == 2 * len(hooks)  # on asyncio and trio


ONE_BUCKET = """
class OneBucket(dict):
    \"\"\"Every bucket name leads to the same objects, in every instance.\"\"\"

    def get(self, bucket, default=None):
        return super().get("one", default)

    def setdefault(self, bucket, default=None):
        return super().setdefault("one", default)


SHARED = OneBucket()


"""
"""A preamble for a memory backend whose stores all share one bucket, as a backend
keeping objects by path alone does."""


def test_a_backend_ignoring_its_bucket_fails(pytester: pytest.Pytester) -> None:
    init = "def __init__(self):\n    super().__init__()\n    self._buckets = SHARED\n"
    result = run_kit(pytester, "one_bucket", init, ONE_BUCKET, select="buckets_are_kept_apart")
    result.stdout.fnmatch_lines(["FAILED *::TestIt::test_buckets_are_kept_apart*"])
    result.stdout.fnmatch_lines(["*the hooks ignore their bucket argument*"])
    assert result.parseoutcomes().get("failed") == 2  # on asyncio and trio


def test_a_backend_ignoring_unknown_options_fails(pytester: pytest.Pytester) -> None:
    """A plain class whose ``__init__`` swallows ``**kwargs`` accepts a misspelt option."""
    init = "def __init__(self, timeout=5.0, **ignored):\n    self.impl = MemoryBackend()\n"
    result = run_kit(pytester, "lax", init + delegating_methods(), base="object")
    result.stdout.fnmatch_lines(["FAILED *::TestIt::test_unknown_option_is_refused*"])
    result.stdout.fnmatch_lines(["*ignores options it does not know*"])
    assert result.parseoutcomes().get("failed") == 2  # only that test, on both loops


SECRET_STORE = """
    @pytest.fixture
    def store(self):
        return SessionStore(
            backend="{name}",
            bucket="kit-tests",
            api_key="k3y-0f-the-account",
            region="eu",
            key_prefix="tenant-one/sessions",
        )
"""
"""A store whose options hold a secret (``api_key``) and plain values (``region``,
and ``key_prefix``, a word of which is "key")."""


@pytest.mark.parametrize(
    ("described", "fails"),
    [
        (
            '{"endpoint": "https://eu.example", "region": self.region, '
            '"location": f"mem://{self.key_prefix}"}',
            False,
        ),
        ('{"endpoint": f"https://eu.example?key={self.api_key}"}', True),
    ],
    ids=["location only", "shows its key"],
)
def test_a_description_showing_a_secret_option_fails(
    pytester: pytest.Pytester, described: str, fails: bool
) -> None:
    """The kit looks for the value of every option whose name suggests a secret in
    the description, and only those: the region and the key prefix may be described."""
    init = (
        "def __init__(self, api_key=None, region=None, key_prefix=''):\n"
        "    self.impl, self.api_key, self.region = MemoryBackend(), api_key, region\n"
        "    self.key_prefix = key_prefix\n"
    )
    describe = (
        "async def sessionstore_describe(self, bucket):\n"
        "    await anyio.lowlevel.checkpoint()\n"
        f"    return {described}\n"
    )
    result = run_kit(
        pytester,
        "describer",
        init + delegating_methods() + describe,
        base="object",
        store_fixture=SECRET_STORE,
        select="describe",
    )
    outcomes = result.parseoutcomes()
    if fails:
        result.stdout.fnmatch_lines(["FAILED *::TestIt::test_describe_says_where_without_secrets*"])
        result.stdout.fnmatch_lines(["*shows the value of the option 'api_key' under 'endpoint'*"])
        assert outcomes.get("failed") == 2  # that test alone, on both loops
    else:
        assert outcomes.get("failed", 0) == 0
        assert outcomes.get("passed") == 4  # the test and describe's checkpoint, on both loops


def test_a_hop_asyncio_can_abandon_fails_on_asyncio(pytester: pytest.Pytester) -> None:
    """A backend writing in ``anyio.to_thread.run_sync`` passed every cancellation
    test on anyio's cancel scopes, while asyncio's own ``task.cancel()`` returned
    before its write landed."""
    upload = """
        async def sessionstore_upload(self, bucket, path, data, if_match, create_only):
            upload = super().sessionstore_upload

            def write():  # a slow write, done from its worker thread
                __import__("time").sleep(0.005)
                return anyio.from_thread.run(
                    lambda: upload(
                        bucket=bucket, path=path, data=data, if_match=if_match,
                        create_only=create_only,
                    )
                )

            return await anyio.to_thread.run_sync(write)
    """
    result = run_kit(pytester, "abandoned", upload, select="cancelled_upload")
    result.stdout.fnmatch_lines(["*landed after the call had returned*"])
    outcomes = result.parseoutcomes()
    assert (outcomes.get("failed"), outcomes.get("passed")) == (1, 1)  # asyncio; trio passes


def test_a_backend_without_describe_skips_its_test_saying_why(pytester: pytest.Pytester) -> None:
    init = "def __init__(self):\n    self.impl = MemoryBackend()\n"
    methods = init + delegating_methods()
    result = run_kit(pytester, "mute", methods, base="object", select="describe")
    result.stdout.fnmatch_lines(["*4 skipped*"])
    assert result.parseoutcomes().get("skipped") == 4
    result = pytester.runpytest_inprocess(
        "-p", "no:cacheprovider", "-q", "-rs", "-k", "test_describe_says_where_without_secrets"
    )
    result.stdout.fnmatch_lines(["*the backend has no sessionstore_describe (optional)*"])


def test_wrong_bytes_failure_says_what_went_wrong(pytester: pytest.Pytester) -> None:
    result = run_kit(pytester, "wrong_bytes", BROKEN["wrong_bytes"])
    result.stdout.fnmatch_lines(["*sessionstore_download returned different bytes*"])


def recording_methods() -> str:
    """Hookimpls that note each hook called, then defer to the memory backend."""
    methods = []
    for hook in HOOK_NAMES:
        params = list(inspect.signature(getattr(hookspecs, hook)).parameters)
        passed = ", ".join(f"{p}={p}" for p in params)
        inherited = OPTIONAL_RETURNS.get(hook, f"await super().{hook}({passed})")
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


def listing(pages: dict[str | None, ListPage]) -> ListPageFn:
    """A listing answering each cursor with a fixed page, as a backend would."""

    async def list_page(cursor: str | None) -> ListPage:
        return pages[cursor]

    return list_page


async def test_all_pages_follows_cursors_to_the_end() -> None:
    pages = {None: ListPage(("a/", "b/"), "b/"), "b/": ListPage(("c",), None)}
    assert await all_pages(listing(pages), limit=2) == [("a/", "b/"), ("c",)]


@pytest.mark.parametrize(
    ("pages", "message"),
    [
        # The cursor is ignored: the first page again, forever.
        (
            {None: ListPage(("a/", "b/"), "b/"), "b/": ListPage(("a/", "b/"), "c/")},
            "page 2 (cursor='b/') starts with 'a/', which does not sort after 'b/'",
        ),
        # An empty last page that hands its cursor back, forever.
        (
            {None: ListPage(("a/",), "a/"), "a/": ListPage((), "a/")},
            "an empty page with the cursor it was given ('a/')",
        ),
        # Empty pages whose cursors go round a loop of two.
        (
            {None: ListPage(("a/",), "a/"), "a/": ListPage((), "x"), "x": ListPage((), "a/")},
            "returned the cursor 'a/' on page 3 and before on page 1",
        ),
        ({None: ListPage(("b/", "a/"), None)}, "not in ascending order: 'a/' comes after 'b/'"),
    ],
    ids=["ignored-cursor", "endless-empty-pages", "cursor-loop", "unordered"],
)
async def test_all_pages_fails_with_the_reason_instead_of_looping(
    pages: dict[str | None, ListPage], message: str
) -> None:
    with pytest.raises(AssertionError, match=re.escape(message)):
        await all_pages(listing(pages))


async def test_all_pages_gives_up_on_a_listing_that_never_ends() -> None:
    async def endless(cursor: str | None) -> ListPage:
        following = f"{int(cursor or 0) + 1:08}"
        return ListPage((), following)

    with pytest.raises(AssertionError, match=f"{MAX_PAGES} pages without cursor=None"):
        await all_pages(endless)


def test_the_fork_clause_takes_an_async_store_fixture(pytester: pytest.Pytester) -> None:
    """The guide lets ``store`` be an async fixture; pytest's event loop then stays
    open in the test's thread, where the fork clause's own ``anyio.run`` used to
    fail with "Already running asyncio in this thread" for a correct backend."""
    result = run_kit(pytester, "async_fixture", "pass", store_fixture=ASYNC_STORE, select="fork")
    assert result.ret == 0, result.stdout.str()
    assert result.parseoutcomes().get("passed") == 4  # both fork tests, on asyncio and trio
