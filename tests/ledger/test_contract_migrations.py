"""Ledger migrations, against every backend: applied once, recorded, never skipped or redone."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from reconciler.errors import LedgerMigrationError
from reconciler.ledger import Ledger, open_ledger
from reconciler.ledger.migrations import Migration, check_numbering, discover


def test_migrations_are_numbered_from_one_without_gaps() -> None:
    migrations = discover()
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
    assert migrations[0].name == "initial"
    for migration in migrations:
        # Only a number reserved for another branch's migration may be empty (see its module).
        if migration.name.startswith("reserved_"):
            assert not migration.statements("sqlite") and not migration.statements("postgres")
            continue
        assert migration.statements("sqlite") and migration.statements("postgres")


@pytest.mark.parametrize("versions", [[1, 3], [2], [1, 1, 2]])
def test_gaps_and_duplicates_in_numbering_are_refused(versions: list[int]) -> None:
    migrations = [Migration(v, f"m{v}", ("SELECT 1",), ("SELECT 1",)) for v in versions]
    with pytest.raises(LedgerMigrationError, match="without gaps"):
        check_numbering(migrations)


def test_a_new_ledger_is_migrated_and_the_migrations_recorded(ledger: Ledger) -> None:
    latest = len(discover())
    assert ledger.migration_version() == latest
    assert [(m.version, m.name) for m in ledger.applied_migrations()] == [
        (m.version, m.name) for m in discover()
    ]


def test_opening_again_migrates_nothing(ledger: Ledger, open_at: Callable[..., Ledger]) -> None:
    before = ledger.applied_migrations()
    ledger.close()
    assert open_at().applied_migrations() == before


def test_concurrent_first_opens_apply_each_migration_once(ledger_url: str) -> None:
    barrier = threading.Barrier(6)
    opened: list[Ledger] = []
    errors: list[BaseException] = []

    def open_one() -> None:
        barrier.wait()
        try:
            opened.append(open_ledger(ledger_url))
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert errors == []
        assert [m.version for m in opened[0].applied_migrations()] == [
            m.version for m in discover()
        ]
    finally:
        for ledger in opened:
            ledger.close()


def test_a_ledger_newer_than_the_tool_is_refused(
    ledger: Ledger, open_at: Callable[..., Ledger]
) -> None:
    ledger.close()
    older_tool = discover()[:-1]
    with pytest.raises(LedgerMigrationError, match=r"newer than this neon-fleet knows"):
        open_at(migrations=older_tool)


def test_a_failing_migration_is_rolled_back_whole(
    ledger: Ledger, open_at: Callable[..., Ledger]
) -> None:
    ledger.close()
    version = len(discover()) + 1
    create = "CREATE TABLE extra (id INTEGER)"
    broken = Migration(version, "broken", (create, "NOT SQL"), (create, "NOT SQL"))
    with pytest.raises(LedgerMigrationError, match=f"migration {version} \\(broken\\) failed"):
        open_at(migrations=(*discover(), broken))
    assert open_at().migration_version() == version - 1
    # The table of the failed migration was rolled back with it, so it can be created again.
    fixed = Migration(version, "fixed", (create,), (create,))
    assert open_at(migrations=(*discover(), fixed)).migration_version() == version
