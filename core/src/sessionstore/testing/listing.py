"""Follow a paged listing to its end, for tests that look at every page."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sessionstore.objects import ListPage

ListPageFn = Callable[[str | None], Awaitable[ListPage]]
"""Given a cursor (``None`` first), one page of the listing."""


async def all_pages(list_page: ListPageFn, *, limit: int | None = None) -> list[tuple[str, ...]]:
    """The entries of every page, in order, following cursors until ``None``.

    With ``limit``, every page is also checked to hold at most that many entries.
    Example: ``await all_pages(lambda cursor: storage.list("", cursor, 5), limit=5)``.
    """
    pages: list[tuple[str, ...]] = []
    cursor: str | None = None
    while True:
        page = await list_page(cursor)
        assert limit is None or len(page.entries) <= limit, (
            f"a page of {len(page.entries)} entries exceeds the limit of {limit}"
        )
        pages.append(page.entries)
        if page.cursor is None:
            return pages
        cursor = page.cursor
