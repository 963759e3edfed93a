"""Follow a paged listing to its end, for tests that look at every page."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sessionstore.objects import ListPage

ListPageFn = Callable[[str | None], Awaitable[ListPage]]
"""Given a cursor (``None`` first), one page of the listing."""

MAX_PAGES = 10_000
"""More pages than any kit listing needs: a listing this long is taken to be endless."""


class PageOrder:
    """Checks each page of one listing against the pages before it, so that a
    cursor that is ignored or never ends fails with a reason instead of looping.

    The contract makes a whole listing strictly ascending (pages resume strictly
    after the previous cursor), so every entry must sort after the one before it,
    across pages too.
    """

    def __init__(self) -> None:
        self.pages = 0
        self.last: str | None = None
        self.cursors: dict[str, int] = {}
        """Each cursor returned so far, and the page that returned it."""

    def check(self, cursor: str | None, page: ListPage) -> None:
        """Raise :class:`AssertionError` saying what is wrong with ``page``, the
        answer to ``cursor``."""
        self.pages += 1
        for index, entry in enumerate(page.entries):
            if self.last is not None and entry <= self.last:
                raise AssertionError(
                    f"sessionstore_list: page {self.pages} (cursor={cursor!r}) starts with "
                    f"{entry!r}, which does not sort after {self.last!r} where the previous "
                    "page ended: the cursor was ignored or does not resume strictly after "
                    "the last entry returned"
                    if index == 0
                    else f"sessionstore_list: page {self.pages} (cursor={cursor!r}) is not "
                    f"in ascending order: {entry!r} comes after {self.last!r}. Sort the "
                    "entries as strings, trailing '/' included"
                )
            self.last = entry
        if page.cursor is None:
            return
        if not page.entries and page.cursor == cursor:
            raise AssertionError(
                f"sessionstore_list returned an empty page with the cursor it was given "
                f"({cursor!r}), so the listing would never end: return cursor=None on the "
                "last page (only None ends a listing)"
            )
        if page.cursor in self.cursors:
            raise AssertionError(
                f"sessionstore_list returned the cursor {page.cursor!r} on page {self.pages} "
                f"and before on page {self.cursors[page.cursor]}, so paging would go round "
                "in a loop: each cursor must resume after the last entry returned so far"
            )
        self.cursors[page.cursor] = self.pages
        if self.pages >= MAX_PAGES:
            raise AssertionError(
                f"sessionstore_list returned {MAX_PAGES} pages without cursor=None: "
                "the listing seems endless; return cursor=None on the last page"
            )


async def all_pages(list_page: ListPageFn, *, limit: int | None = None) -> list[tuple[str, ...]]:
    """The entries of every page, in order, following cursors until ``None``.

    Fails with a reason, instead of looping, when the listing is not in ascending
    order across pages (a cursor that is ignored) or never ends. With ``limit``,
    every page is also checked to hold at most that many entries. Example:
    ``await all_pages(lambda cursor: storage.list("", cursor, 5), limit=5)``.
    """
    pages: list[tuple[str, ...]] = []
    order = PageOrder()
    cursor: str | None = None
    while True:
        page = await list_page(cursor)
        assert limit is None or len(page.entries) <= limit, (
            f"sessionstore_list returned a page of {len(page.entries)} entries for limit="
            f"{limit}: return at most `limit` entries, and a cursor to resume after them"
        )
        order.check(cursor, page)
        pages.append(page.entries)
        if page.cursor is None:
            return pages
        cursor = page.cursor
