"""Client CPU per call: what ``NeonClient`` itself costs, apart from the server it talks to.

A fixed mix of typed client calls — per round one listing of an org's 400 projects (a page of
400 and the empty page that ends it) and 80 calls each of ``GET /projects/{id}``,
``GET …/endpoints``, ``GET …/branches``, ``PATCH /projects/{id}`` (a rename) and
``POST /organizations/{org}/api_keys`` (402 requests, about one list page per 400 calls, as in
a fleet refresh) — is run over three transports:

* ``canned``: a transport that replays the emulator's own answers (captured once, byte for
  byte) without doing any work, so the process CPU is the client's alone: request building,
  the limiter, retries bookkeeping, stats, JSON decoding and parsing into wire types;
* ``emulator``: the in-memory emulator through ``httpx.WSGITransport`` (end to end, the
  emulator's CPU included; ``emulator − canned`` is roughly the emulator's share).

* ``loopback``: the emulator served over HTTP/1.1 on loopback in a background thread; only the
  calling thread's CPU is counted, so this is the client with httpx's real connection pool.

Each prints the calling thread's CPU milliseconds per request (mix and per route); ``--profile``
adds a cProfile of the canned run. Bounded, loopback only. Run: ``python bench/client_cpu.py
[--rounds N] [--transports canned,emulator,loopback] [--profile]``.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from reconciler.emulator import Emulator, seed_from_mapping, serve
from reconciler.neon import RetryPolicy
from reconciler.neon.ratelimit import RateBudget, configure_shared_limiter

try:  # the writer holds PATCH/POST since the read/write split; older checkouts have one class
    from reconciler.neon.mutators import NeonWriter
except ImportError:  # pragma: no cover - measuring a checkout from before the split
    from reconciler.neon import NeonClient as NeonWriter  # type: ignore[assignment]

ORG, KEY, BASE_URL = "org-bench", "bench-key", "http://emulator.test/api/v2"
PROJECTS = 400
CALLS_PER_KIND = 80
SEED = {
    "orgs": [{"id": ORG, "name": "Bench", "plan": "scale"}],
    "keys": [{"token": KEY, "kind": "org", "org": ORG}],
    "projects": [
        {"name": f"tenant-{n:05d}", "org": ORG, "quota": {"active_time_seconds": 3600 + n}}
        for n in range(PROJECTS)
    ],
    "limits": {"requests_per_minute": 10**9, "route_requests_per_second": 10**9},
    "operation_duration_ms": 0,
}


#: A recorded answer: status, headers and body bytes, by ``(method, raw path with query)``.
Answers = dict[tuple[str, bytes], tuple[int, list[tuple[str, str]], bytes]]


class CannedTransport(httpx.BaseTransport):
    """Answers each ``(method, path)`` with the bytes the emulator once sent for it."""

    def __init__(self, answers: Answers) -> None:
        self._answers = answers

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Replay the recorded answer (the request body is read, as a real transport would)."""
        request.read()
        status, headers, content = self._answers[(request.method, request.url.raw_path)]
        return httpx.Response(status, headers=headers, content=content)


class RecordingTransport(httpx.BaseTransport):
    """Forwards to another transport and keeps the last answer per ``(method, path)``."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.answers: Answers = {}

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send, read and remember."""
        response = self.inner.handle_request(request)
        content = response.read()
        headers = [(k, v) for k, v in response.headers.items() if k != "content-length"]
        answer = (response.status_code, headers, content)
        self.answers[(request.method, request.url.raw_path)] = answer
        return httpx.Response(response.status_code, headers=headers, content=content)


def make_client(transport: httpx.BaseTransport | None, base_url: str = BASE_URL) -> NeonWriter:
    """A client as the CLI builds one, over ``transport`` (the shared limiter, whose CPU counts,
    is given a budget that never makes a call wait)."""
    huge = 1e12
    budget = RateBudget(account_per_minute=huge, route_per_second=huge, consumption_per_minute=huge)
    configure_shared_limiter(budget)
    return NeonWriter(base_url, transport=transport, retry=RetryPolicy())


@dataclass(frozen=True)
class Call:
    """One kind of call of the mix."""

    route: str
    run: Callable[[NeonWriter, str, int], object]


MIX: tuple[tuple[Call, int], ...] = (
    (Call("GET /projects (400 per page)", lambda c, _p, _n: c.list_projects(KEY, org_id=ORG)), 1),
    (Call("GET /projects/{id}", lambda c, p, _n: c.get_project(KEY, p)), CALLS_PER_KIND),
    (Call("GET …/endpoints", lambda c, p, _n: c.list_endpoints(KEY, p)), CALLS_PER_KIND),
    (Call("GET …/branches", lambda c, p, _n: c.list_branches(KEY, p)), CALLS_PER_KIND),
    (
        Call("PATCH /projects/{id}", lambda c, p, n: c.update_project(KEY, p, name=f"t-{n}")),
        CALLS_PER_KIND,
    ),
    (
        Call("POST …/api_keys", lambda c, p, _n: c.create_org_api_key(KEY, ORG, "k", p)),
        CALLS_PER_KIND,
    ),
)


Totals = dict[str, tuple[int, float]]


def run_round(client: NeonWriter, project_id: str, round_number: int) -> Totals:
    """Run the mix once on one project; return (requests, CPU s) per route."""
    totals: Totals = {}
    for call, times in MIX:
        sent = client.stats.snapshot().total_requests
        started = time.thread_time()
        for n in range(times):
            call.run(client, project_id, round_number * times + n)
        spent = time.thread_time() - started
        totals[call.route] = (client.stats.snapshot().total_requests - sent, spent)
    return totals


def ms_per_request(totals: Totals) -> float:
    """CPU milliseconds per request over every route of ``totals``."""
    return sum(s for _, s in totals.values()) / sum(n for n, _ in totals.values()) * 1000


def report(title: str, rounds: list[Totals]) -> float:
    """Print the median round's CPU ms per request, per route and for the mix; return it.

    The median round, not the sum, because other processes on a shared machine inflate some
    rounds' CPU time (cache and frequency effects), and the median ignores those few.
    """
    median = sorted(rounds, key=ms_per_request)[len(rounds) // 2]
    figures = sorted(ms_per_request(totals) for totals in rounds)
    mix = ms_per_request(median)
    print(
        f"{title}: {mix:.3f} ms CPU per request (median of {len(rounds)} rounds; "
        f"range {figures[0]:.3f}–{figures[-1]:.3f})"
    )
    for route, (n, spent) in median.items():
        print(f"    {route:<30} {spent / n * 1000:8.3f} ms/request  ({n} requests)")
    return mix


def measure(
    title: str,
    transport: httpx.BaseTransport | None,
    project_id: str,
    rounds: int,
    *,
    profile: bool = False,
    base_url: str = BASE_URL,
) -> float:
    """Warm up, then run and report ``rounds`` rounds of the mix over ``transport``."""
    with make_client(transport, base_url) as client:
        run_round(client, project_id, 0)
        profiler = cProfile.Profile() if profile else None
        if profiler is not None:
            profiler.enable()
        totals = [run_round(client, project_id, n) for n in range(1, rounds + 1)]
        if profiler is not None:
            profiler.disable()
        mix = report(title, totals)
    if profiler is not None:
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(30)
        print(text.getvalue())
    return mix


def main() -> None:
    """Capture the emulator's answers, then measure the chosen transports."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=10, help="rounds of the mix")
    parser.add_argument("--transports", default="canned,emulator,loopback")
    parser.add_argument("--profile", action="store_true", help="cProfile the canned run")
    args = parser.parse_args()
    chosen = args.transports.split(",")
    emulator = Emulator(None, seed_from_mapping(SEED))
    recorder = RecordingTransport(httpx.WSGITransport(app=emulator))
    with make_client(recorder) as client:
        project_id = client.list_projects(KEY, org_id=ORG).projects[0].id
        run_round(client, project_id, 0)  # records one answer per request
    print(f"calling thread's CPU per request; {args.rounds} rounds of the mix")
    if "canned" in chosen:
        title = "client alone (canned answers)"
        canned = CannedTransport(recorder.answers)
        measure(title, canned, project_id, args.rounds, profile=args.profile)
    if "emulator" in chosen:
        title = "client + emulator (WSGITransport)"
        measure(title, httpx.WSGITransport(app=emulator), project_id, args.rounds)
    if "loopback" in chosen:
        with serve(emulator) as running:
            title = "client over loopback HTTP (server thread not counted)"
            measure(title, None, project_id, args.rounds, base_url=running.url)
    emulator.close()


if __name__ == "__main__":
    main()
