"""One backend instance bound to one bucket, called through its own plugin manager.

This is the only place hooks are called, so it is where backend failures become
sessionstore errors: missing objects stay :class:`FileNotFoundError`, conflicts
stay :class:`ConflictError`, access refused becomes
:class:`StoragePermissionError`, and anything else becomes
:class:`StorageUnavailableError` naming backend, bucket and path.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import anyio.lowlevel

from sessionstore.backend_options import build_backend
from sessionstore.contract import plugin_manager
from sessionstore.errors import (
    SessionStoreError,
    StoragePermissionError,
    StorageUnavailableError,
)
from sessionstore.objects import ListPage, ObjectInfo, StoredObject
from sessionstore.registry import load_backend

if TYPE_CHECKING:
    import pluggy


def _direct(caller: pluggy.HookCaller) -> Callable[..., Any]:
    """The hook's one implementation itself, when calling it by keyword is all
    pluggy would do: a store's plugin manager holds one backend, and pluggy's
    dispatch loop would cost a third of an in-memory operation. pluggy has still
    checked the implementation against the spec when the backend was registered."""
    impls = caller.get_hookimpls()
    if len(impls) == 1 and caller.spec is not None:
        impl = impls[0]
        takes_all = set(impl.argnames) == set(caller.spec.argnames)
        if takes_all and not (impl.hookwrapper or impl.wrapper or impl.kwargnames):
            return impl.function
    return caller


class Storage:
    """A backend plugin instance for one bucket, with failures mapped to our errors."""

    def __init__(self, name: str, bucket: str, options: Mapping[str, Any]) -> None:
        info, cls = load_backend(name)
        self.name = name = info.name
        self.bucket = bucket
        self.plugin = build_backend(cls, name, options)
        self._hook = hook = plugin_manager(self.plugin, info).hook
        self._init = _direct(hook.sessionstore_init)
        self._upload = _direct(hook.sessionstore_upload)
        self._download = _direct(hook.sessionstore_download)
        self._exists = _direct(hook.sessionstore_exists)
        self._stat = _direct(hook.sessionstore_stat)
        self._delete = _direct(hook.sessionstore_delete)
        self._list = _direct(hook.sessionstore_list)

    async def init(self) -> None:
        try:
            await self._init(bucket=self.bucket)
        except Exception as error:
            await self._raise_mapped(error, None)
            raise

    async def upload(
        self, path: str, data: bytes, *, if_match: str | None = None, create_only: bool = False
    ) -> ObjectInfo:
        try:
            return await self._upload(  # type: ignore[no-any-return]
                bucket=self.bucket,
                path=path,
                data=data,
                if_match=if_match,
                create_only=create_only,
            )
        except Exception as error:
            await self._raise_mapped(error, path)
            raise

    async def download(self, path: str) -> StoredObject:
        try:
            return await self._download(bucket=self.bucket, path=path)  # type: ignore[no-any-return]
        except Exception as error:
            await self._raise_mapped(error, path, may_be_missing=True)
            raise

    async def exists(self, path: str) -> bool:
        try:
            return await self._exists(bucket=self.bucket, path=path)  # type: ignore[no-any-return]
        except Exception as error:
            await self._raise_mapped(error, path)
            raise

    async def stat(self, path: str) -> ObjectInfo:
        try:
            return await self._stat(bucket=self.bucket, path=path)  # type: ignore[no-any-return]
        except Exception as error:
            await self._raise_mapped(error, path, may_be_missing=True)
            raise

    async def delete(self, paths: Sequence[str], *, if_match: str | None = None) -> None:
        if if_match is not None and len(paths) != 1:
            raise ValueError("if_match applies to a single path")
        try:
            await self._delete(bucket=self.bucket, paths=paths, if_match=if_match)
        except Exception as error:
            await self._raise_mapped(
                error, paths[0] if len(paths) == 1 else f"{len(paths)} objects"
            )
            raise

    async def list(self, prefix: str, cursor: str | None, limit: int | None) -> ListPage:
        try:
            page: ListPage = await self._list(
                bucket=self.bucket, prefix=prefix, cursor=cursor, limit=limit
            )
        except Exception as error:
            await self._raise_mapped(error, prefix or "/")
            raise
        if page.cursor is not None and page.cursor in ("", cursor):
            # Every walk pages on until the cursor is None: it would never end.
            stuck = RuntimeError(
                f"sessionstore_list returned the cursor {page.cursor!r} for a page asked "
                f"after {cursor!r}, so paging would never end (a bug in the backend)"
            )
            await self._raise_mapped(stuck, prefix or "/")
        return page

    async def close(self) -> None:
        """Let the backend release its clients; backends without ``sessionstore_close``
        have nothing to release."""
        try:
            pending = self._hook.sessionstore_close()
            if pending is not None:
                await pending
        except Exception as error:
            await self._raise_mapped(error, None)
            raise

    async def sweep(self) -> int:
        """Let the backend remove what interrupted writes left behind; how many it
        removed (0 for backends without ``sessionstore_sweep``, or whose sweep
        returns ``None``)."""
        try:
            pending = self._hook.sessionstore_sweep(bucket=self.bucket)
            return 0 if pending is None else int(await pending or 0)
        except Exception as error:
            await self._raise_mapped(error, None)
            raise

    async def describe(self) -> dict[str, str]:
        """Where and how the backend keeps the bucket, as labels to one-line values
        (``{}`` for backends without ``sessionstore_describe``). Call it after
        :meth:`init`: the backend may report what init learned."""
        try:
            pending = self._hook.sessionstore_describe(bucket=self.bucket)
            return {} if pending is None else dict(await pending or {})
        except Exception as error:
            await self._raise_mapped(error, None)
            raise

    async def _raise_mapped(
        self, error: Exception, path: str | None, *, may_be_missing: bool = False
    ) -> None:
        """Raise the sessionstore error for a hook's failure, or return (and the
        caller re-raises ``error``) for those that pass as they are: our own errors,
        and FileNotFoundError where ``may_be_missing`` (download and stat report
        absent objects that way); elsewhere it is a backend failure. Each method
        catches for itself rather than awaiting a shared wrapper: one coroutine
        less per successful operation.

        A cancellation pending when the hook failed is raised instead of a backend
        failure: the caller asked to stop, and a thread hop or request that ended
        in an error meanwhile must not read as storage being down. (Outcomes such
        as a conflict or an absent object are still reported.)"""
        if isinstance(error, SessionStoreError) or (
            may_be_missing and isinstance(error, FileNotFoundError)
        ):
            return
        await anyio.lowlevel.checkpoint_if_cancelled()
        if isinstance(error, PermissionError):
            kind: type[StorageUnavailableError] = StoragePermissionError
            what = "was refused access"
        else:
            kind, what = StorageUnavailableError, "failed"
        raise kind(
            self._describe(what, path, error),
            backend=self.name,
            bucket=self.bucket,
            path=path,
        ) from error

    def _describe(self, what: str, path: str | None, error: BaseException) -> str:
        # A listing of the bucket's top level has the path "/": no "bucket//".
        where = f"{self.bucket}/{path.lstrip('/')}" if path else self.bucket
        return f"{self.name} backend {what} on {where}: {type(error).__name__}: {error}"

    def __repr__(self) -> str:
        return f"Storage(backend={self.name!r}, bucket={self.bucket!r})"
