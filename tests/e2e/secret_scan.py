"""After every e2e test: no key token, password or connection string leaked anywhere.

Secrets are gathered from where they legitimately live — the secret sink's files (API key
tokens, connection secrets' URIs and role passwords, Neon Auth keys), the keys the test put in
the environment, and the emulator's role passwords — and searched for in everything
else the test produced: what the CLI printed and logged (runs use ``-vv``), every file in the
working directory (plan files, the SQLite ledger and its WAL) and, for PostgreSQL ledgers, every
row of the test's schema. A hit names the place, never the secret.

The sink itself is checked too: every directory under ``.fleet/secrets`` is 0700, every file 0600,
and nothing there is a symbolic link. An exec sink that recorded its environment in the working
directory is covered by the same scan (an inherited API key would be a leak in that file).
"""

from __future__ import annotations

import json
import re
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

#: Role passwords the emulator generates (``npg_`` + 12 characters, like Neon's).
PASSWORD_PATTERN = re.compile(rb"npg_[A-Za-z0-9]{12}")
#: A connection string that carries a password.
CONNECTION_URI_PATTERN = re.compile(rb"postgres(?:ql)?://[^\s:/@]+:[^\s@/]+@")


#: The fields of a sink document that hold a secret (API key, connection secret, Neon Auth).
SECRET_FIELDS = ("token", "password", "uri", "DATABASE_URL", "pub_client_key", "secret_server_key")


def sink_tokens(workdir: Path) -> set[str]:
    """Every secret value in the sink's documents (each document holds at least one)."""
    tokens = set()
    for path in (workdir / ".fleet" / "secrets").rglob("*.json"):
        document = json.loads(path.read_text())
        found = {str(document[f]) for f in SECRET_FIELDS if f in document}
        assert found, f"{path}: a sink document without a secret"
        tokens |= found
    return tokens


def sink_mode_problems(workdir: Path) -> list[str]:
    """Sink entries that are not 0700 directories or 0600 files (or that are symbolic links)."""
    sink = workdir / ".fleet" / "secrets"
    if not sink.exists() and not sink.is_symlink():
        return []
    problems = []
    for path in [sink, *sorted(sink.rglob("*"))]:
        where = path.relative_to(workdir)
        info = path.lstat()
        mode = stat.S_IMODE(info.st_mode)
        if stat.S_ISLNK(info.st_mode):
            problems.append(f"{where}: a symbolic link in the secret sink")
        elif stat.S_ISDIR(info.st_mode) and mode != 0o700:
            problems.append(f"{where}: sink directory has mode {mode:04o}, not 0700")
        elif stat.S_ISREG(info.st_mode) and mode != 0o600:
            problems.append(f"{where}: sink file has mode {mode:04o}, not 0600")
    return problems


def emulator_passwords(state: Path) -> set[str]:
    if not state.exists():
        return set()
    with sqlite3.connect(state) as connection:
        project = {row[0] for row in connection.execute("SELECT password FROM roles")}
        # Branch-level roles (a preview branch's copies of its parent's) have passwords too.
        branch = {
            row[0]
            for row in connection.execute(
                "SELECT password FROM branch_roles WHERE password IS NOT NULL"
            )
        }
        return project | branch


def workdir_files(workdir: Path) -> Iterator[Path]:
    """Every file a run wrote, except the sink (where tokens belong) and sandbox key files."""
    for path in workdir.rglob("*"):
        if not path.is_file():
            continue
        relative = path.relative_to(workdir).parts
        if relative[:2] == (".fleet", "secrets") or path.name == "sandbox-keys.json":
            continue
        yield path


def find_leaks(haystacks: dict[str, bytes], secrets: set[str]) -> list[str]:
    """Where (by haystack name) any secret or secret-shaped string appears."""
    needles = [s.encode() for s in secrets if len(s) >= 8]
    leaks = []
    for where, data in haystacks.items():
        if any(needle in data for needle in needles):
            leaks.append(f"{where}: contains a key token or password")
        if PASSWORD_PATTERN.search(data):
            leaks.append(f"{where}: contains a role password")
        if CONNECTION_URI_PATTERN.search(data):
            leaks.append(f"{where}: contains a connection string with a password")
    return leaks
