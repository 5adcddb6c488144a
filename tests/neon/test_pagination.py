"""The pagination loop stops on every end signal Neon may give, with no extra request."""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.neon.pagination import iter_pages


@dataclass
class Page:
    items: list[int]
    cursor: str | None


def _walk(pages: dict[str | None, Page], limit: int | None) -> tuple[list[int], list[str | None]]:
    asked: list[str | None] = []

    def fetch(cursor: str | None) -> Page:
        asked.append(cursor)
        return pages[cursor]

    items = [
        item
        for page in iter_pages(
            fetch, next_cursor=lambda p: p.cursor, item_count=lambda p: len(p.items), limit=limit
        )
        for item in page.items
    ]
    return items, asked


def test_stops_on_short_page() -> None:
    pages = {None: Page([1, 2], "c1"), "c1": Page([3], "c2")}
    assert _walk(pages, 2) == ([1, 2, 3], [None, "c1"])


def test_full_last_page_costs_one_empty_request() -> None:
    pages = {None: Page([1, 2], "c1"), "c1": Page([], "c1")}
    assert _walk(pages, 2) == ([1, 2], [None, "c1"])


def test_stops_without_cursor() -> None:
    pages = {None: Page([1, 2], "c1"), "c1": Page([3, 4], None)}
    assert _walk(pages, None) == ([1, 2, 3, 4], [None, "c1"])


def test_repeated_cursor_ends_the_walk() -> None:
    pages = {None: Page([1], "a"), "a": Page([2], "b"), "b": Page([3], "a")}
    assert _walk(pages, None) == ([1, 2, 3], [None, "a", "b"])
