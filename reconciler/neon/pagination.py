"""Walk Neon's two pagination dialects to the last page with as few requests as possible.

* ``pagination.cursor`` (projects, operations, consumption): the spec requires a non-empty
  cursor on *every* page, so the end is not signalled; Neon's own scripts stop on an empty page
  or a repeated cursor.
* ``pagination.next`` (branches): the next-page token, absent on the last page, sent back as
  ``?cursor=``.

The response parsers normalise both into "the cursor for the next request, or ``None``", so one
loop serves both. It stops at the first of: no cursor, an empty page, a page shorter than the
requested ``limit`` (which saves the extra empty request), or a cursor seen before (a server
bug must not become an endless loop).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TypeVar

P = TypeVar("P")


def iter_pages(
    fetch: Callable[[str | None], P],
    *,
    next_cursor: Callable[[P], str | None],
    item_count: Callable[[P], int],
    limit: int | None,
) -> Iterator[P]:
    """Yield pages from ``fetch(cursor)``, starting with ``cursor=None``, until the last one."""
    seen: set[str] = set()
    cursor: str | None = None
    while True:
        page = fetch(cursor)
        yield page
        count = item_count(page)
        cursor = next_cursor(page)
        if cursor is None or count == 0 or cursor in seen:
            return
        if limit is not None and count < limit:
            return
        seen.add(cursor)
