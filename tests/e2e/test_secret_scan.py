"""The e2e secret scan finds what it must, so a clean scan means something."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.secret_scan import find_leaks, workdir_files

TOKEN = "Zq8" * 21 + "x"


def test_finds_a_token_a_password_and_a_connection_string():
    leaks = find_leaks(
        {
            "stdout": f"created key {TOKEN}".encode(),
            "plan.json": b'{"password": "npg_AbCdEf123456"}',
            "ledger.db": b"postgresql://neondb_owner:s3cret@ep-x.neon.tech/neondb",
            "clean.log": b"GET /projects 200 OK postgresql://postgres@127.0.0.1:5432/test",
        },
        {TOKEN},
    )
    assert leaks == [
        "stdout: contains a key token or password",
        "plan.json: contains a role password",
        "ledger.db: contains a connection string with a password",
    ]


def test_the_sink_is_the_only_place_skipped(tmp_path: Path):
    (tmp_path / ".fleet" / "secrets" / "t").mkdir(parents=True)
    (tmp_path / ".fleet" / "secrets" / "t" / "k.json").write_text("{}")
    (tmp_path / ".fleet" / "ledger.db-wal").write_text("")
    (tmp_path / "plan.json").write_text("{}")
    found = sorted(str(p.relative_to(tmp_path)) for p in workdir_files(tmp_path))
    assert found == [".fleet/ledger.db-wal", "plan.json"]
