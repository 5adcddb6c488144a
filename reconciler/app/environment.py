"""Adapters for one command: the Neon client, credentials, ledger and secret sink.

This is the only place that builds them. ``Environment`` chooses between the real Neon API
(``--api-host``/``NEON_API_HOST``, keys from the environment variables the Fleet names) and the
sandbox (an in-process emulator under ``.fleet/``, see ``sandbox.py``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from reconciler.apply.secrets import ExecSink, FileSink, SecretSink
from reconciler.core.model import FleetConfig
from reconciler.core.model import SecretSink as SinkConfig
from reconciler.credentials import Credentials, credentials_from_env
from reconciler.errors import UsageError
from reconciler.ledger import DEFAULT_LEDGER_URL, LEDGER_ENV, Ledger, open_ledger
from reconciler.ledger.url import ledger_from_environment
from reconciler.neon import DEFAULT_BASE_URL, NeonClient
from reconciler.neon.ratelimit import RateBudget, configure_shared_limiter
from reconciler.neon.retry import RetryPolicy

API_HOST_ENV = "NEON_API_HOST"
API_PREFIX = "/api/v2"
#: The sandbox's directory under the working directory: emulator state, keys, its own ledger.
SANDBOX_DIR = ".fleet"


@dataclass(frozen=True)
class GlobalOptions:
    """The options every command shares (``fleet --api-host … --ledger … --sandbox``)."""

    api_host: str | None = None
    ledger_url: str | None = None
    sandbox: bool = False
    workdir: Path = field(default_factory=Path.cwd)
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))

    def __post_init__(self) -> None:
        # The sandbox is its own API; an explicit host next to it is a contradiction the user
        # should hear about rather than a flag that silently does nothing.
        if self.sandbox and self.api_host:
            raise UsageError(
                f"--sandbox and --api-host {self.api_host} contradict each other: --sandbox "
                "runs against the local emulator; drop one of them"
            )
        if self.ledger_url is not None and not self.ledger_url.strip():
            raise UsageError("--ledger is empty: name a ledger URL, or leave the option out")


@dataclass(frozen=True)
class LedgerChoice:
    """The ledger a command uses: its URL and what chose it (for messages)."""

    url: str
    source: str


def choose_ledger(options: GlobalOptions, manifest: Callable[[], LedgerChoice]) -> LedgerChoice:
    """The ledger in force, in the order every command uses: ``--ledger``, then the sandbox's
    own, then ``$FLEET_LEDGER``, then ``manifest()`` (the Fleet's, else the default; only asked
    when nothing before it chose)."""
    if options.ledger_url:
        return LedgerChoice(options.ledger_url, "--ledger")
    if options.sandbox:
        # Sandbox ids must never mix with a real fleet's records, nor an env var's ledger.
        url = f"sqlite:///{options.workdir / SANDBOX_DIR / 'sandbox-ledger.db'}"
        return LedgerChoice(url, "the sandbox")
    from_environment = ledger_from_environment(options.environ)
    if from_environment is not None:
        return LedgerChoice(from_environment, LEDGER_ENV)
    return manifest()


def api_base_url(options: GlobalOptions) -> str:
    """The API base URL: ``--api-host``, else ``$NEON_API_HOST``, else Neon's.

    A host without a path (``http://127.0.0.1:8787``) gets Neon's ``/api/v2`` prefix.
    """
    source = f"--api-host/{API_HOST_ENV}"
    raw = options.api_host or options.environ.get(API_HOST_ENV) or DEFAULT_BASE_URL
    if "://" not in raw:
        raw = f"https://{raw}"
    try:
        parts = urlsplit(raw)
        port = parts.port  # raises ValueError for a port that is not a number in range
        url = httpx.URL(f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/') or API_PREFIX}")
    except (ValueError, httpx.InvalidURL) as exc:
        raise UsageError(f"{source}: {raw!r} is not a valid URL ({exc})") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname or port == 0:
        raise UsageError(f"{source}: {raw!r} is not an http(s) URL with a host")
    return str(url)


class Environment:
    """Lazily built adapters for one command; close it when done."""

    def __init__(self, options: GlobalOptions, fleet: FleetConfig) -> None:
        self.options, self.fleet = options, fleet
        self._client: NeonClient | None = None
        self._ledger: Ledger | None = None
        self._sandbox = None
        if options.sandbox:
            from reconciler.app.sandbox import Sandbox  # the emulator only loads when asked

            self._sandbox = Sandbox(options.workdir / SANDBOX_DIR, fleet)
        # Resolve the ledger URL now (no I/O): an empty FLEET_LEDGER is refused before any
        # key is read or any API is contacted.
        self.ledger_url()

    def credentials(self) -> Credentials:
        if self._sandbox is not None:
            return self._sandbox.credentials()
        return credentials_from_env(self.fleet, self.options.environ)

    def client(self) -> NeonClient:
        if self._client is None:
            if self._sandbox is not None:
                transport: httpx.BaseTransport | None = self._sandbox.transport()
                base_url = self._sandbox.base_url
            else:
                transport, base_url = None, api_base_url(self.options)
            # One budget per Neon account for the whole process, from this command's environment
            # (NEON_FLEET_*RATE_LIMIT; NEON_FLEET_RATE_LIMIT_SCOPE=process: one for everything).
            configure_shared_limiter(RateBudget.from_env(self.options.environ))
            # The retry budgets come from NEON_FLEET_RETRY_BUDGET / NEON_FLEET_RATE_LIMIT_WAIT.
            retry = RetryPolicy.from_env(self.options.environ)
            self._client = NeonClient(base_url, transport=transport, retry=retry)
        return self._client

    def ledger_url(self) -> str:
        fleet_url = self.fleet.ledger_url

        def from_fleet() -> LedgerChoice:
            return LedgerChoice(fleet_url or DEFAULT_LEDGER_URL, "the Fleet")

        return choose_ledger(self.options, from_fleet).url

    def ledger(self) -> Ledger:
        if self._ledger is None:
            self._ledger = open_ledger(self.ledger_url(), base_dir=self.options.workdir)
        return self._ledger

    def secret_sink(self) -> SecretSink | None:
        return build_sink(self.fleet.secrets, self.options.workdir, self.options.environ)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
        if self._ledger is not None:
            self._ledger.close()
        if self._sandbox is not None:
            self._sandbox.close()

    def __enter__(self) -> Environment:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def build_sink(
    config: SinkConfig | None, workdir: Path, environ: Mapping[str, str]
) -> SecretSink | None:
    """The configured secret sink; relative file sink paths are relative to the workdir.

    A relative file sink is walked from the workdir without following links (so a link planted
    at ``.fleet`` is refused too); an exec sink sees only ``environ``'s base variables and the
    Fleet's ``secrets.env`` allow-list.
    """
    if config is None:
        return None
    if config.kind == "file":
        target = Path(config.target)
        if target.is_absolute():
            return FileSink(target)
        return FileSink(workdir / target, base=workdir)
    try:
        return ExecSink(config.target, env=config.env, environ=environ)
    except ValueError as exc:  # shlex: an unterminated quote
        raise UsageError(f"spec.secrets.exec: cannot split the command line ({exc})") from exc
