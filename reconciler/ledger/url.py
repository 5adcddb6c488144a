"""Ledger URLs: which one applies, what it points at, and how to show it without its password.

Accepted forms:

* ``sqlite:///relative/path.db`` (relative to ``base_dir``, by default the working directory),
  ``sqlite:////absolute/path.db`` and ``sqlite:///:memory:``;
* ``postgresql://user@host:port/db?…`` or ``postgres://…``, any libpq URI. neon-fleet adds one
  query parameter, ``schema=NAME``, removed before connecting (see ``reconciler.ledger.postgres``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from reconciler.errors import UsageError

DEFAULT_LEDGER_URL = "sqlite:///.fleet/ledger.db"
#: The environment variable that overrides the Fleet manifest's ``ledger``.
LEDGER_ENV = "FLEET_LEDGER"

_SQLITE_PREFIX = "sqlite:///"
_POSTGRES_SCHEMES = ("postgresql", "postgres")
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


@dataclass(frozen=True)
class SqliteTarget:
    """A SQLite ledger file; ``path`` None means an in-memory ledger."""

    path: Path | None


@dataclass(frozen=True)
class PostgresTarget:
    """A PostgreSQL ledger: what to connect to, which schema, and how to name it in messages."""

    conninfo: str
    schema: str | None
    display: str

    def __repr__(self) -> str:  # the conninfo may hold a password
        return f"PostgresTarget(display={self.display!r}, schema={self.schema!r})"


def ledger_from_environment(environ: Mapping[str, str]) -> str | None:
    """``$FLEET_LEDGER``, or None when it is not set; set but empty is an error.

    CI systems expand a missing secret to an empty string. Falling back to the default would
    run against a fresh local ledger that owns nothing: apply would adopt every project again
    and re-mint every key. An empty value is refused instead.
    """
    value = environ.get(LEDGER_ENV)
    if value is not None and not value.strip():
        raise UsageError(
            f"{LEDGER_ENV} is set but empty (a CI secret that is not defined?): set it to the "
            f"ledger URL, or unset it to use the Fleet's ledger"
        )
    return value


def redact_url(url: str) -> str:
    """``url`` with its password and query string removed, safe for messages and logs."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, _, hostport = netloc.rpartition("@")
            user = userinfo.split(":", 1)[0]
            netloc = f"{user}:***@{hostport}" if ":" in userinfo else f"{user}@{hostport}"
        return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    except ValueError:
        return "<unparseable URL>"


def parse_ledger_url(url: str, *, base_dir: Path | None = None) -> SqliteTarget | PostgresTarget:
    """Where ``url`` points; ``UsageError`` naming the (redacted) URL when it is not usable."""
    if url.startswith(_SQLITE_PREFIX):
        return _parse_sqlite(url, base_dir)
    scheme = url.partition("://")[0].lower()
    if scheme in _POSTGRES_SCHEMES:
        return _parse_postgres(url)
    raise UsageError(
        f"unsupported ledger URL {redact_url(url)!r}: use sqlite:///relative/path.db, "
        "sqlite:////absolute/path.db, sqlite:///:memory: or postgresql://…"
    )


def _parse_sqlite(url: str, base_dir: Path | None) -> SqliteTarget:
    rest = url[len(_SQLITE_PREFIX) :]
    if rest == ":memory:":
        return SqliteTarget(None)
    if not rest or rest.endswith("/") or "?" in rest or "#" in rest:
        raise UsageError(
            f"bad SQLite ledger URL {url!r}: expected sqlite:///path/to/ledger.db "
            "(three slashes, then a file path; four for an absolute path)"
        )
    path = Path(rest)
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    return SqliteTarget(path)


def _parse_postgres(url: str) -> PostgresTarget:
    try:
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True)
    except ValueError as exc:
        raise UsageError(f"bad PostgreSQL ledger URL {redact_url(url)!r}: {exc}") from exc
    if not parts.netloc and not parts.path.strip("/") and not query:
        raise UsageError(f"bad PostgreSQL ledger URL {redact_url(url)!r}: no database named")
    schemas = [value for name, value in query if name == "schema"]
    if len(schemas) > 1 or (schemas and not _SCHEMA_NAME.match(schemas[0])):
        raise UsageError(
            f"bad schema in ledger URL {redact_url(url)!r}: give one schema=NAME, "
            "NAME matching [a-z_][a-z0-9_]*"
        )
    schema = schemas[0] if schemas else None
    rest = urlencode([(name, value) for name, value in query if name != "schema"])
    conninfo = urlunsplit((parts.scheme, parts.netloc, parts.path, rest, parts.fragment))
    display = redact_url(url) + (f"?schema={schema}" if schema else "")
    return PostgresTarget(conninfo=conninfo, schema=schema, display=display)
