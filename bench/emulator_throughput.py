"""Emulator throughput: requests per second in process (WSGI) and over loopback.

A fixed mix of requests — 60% ``GET /projects/{id}``, 20% ``GET /projects?limit=400`` (a
random page), 20% ``PATCH /projects/{id}`` (a rename, which schedules no operation) — against an
in-memory emulator seeded with a 2,000-project org, rate limits raised out of the way. Bounded
in count, loopback only. Run: ``python bench/emulator_throughput.py [--requests N]``.
"""

from __future__ import annotations

import argparse
import random
import time

import httpx

from reconciler.emulator import Emulator, seed_from_mapping, serve

PROJECTS = 2000
SEED = {
    "orgs": [{"id": "org-bench", "name": "Bench", "plan": "scale"}],
    "keys": [{"token": "bench-key", "kind": "org", "org": "org-bench"}],
    "projects": [{"name": f"tenant-{n:05d}", "org": "org-bench"} for n in range(PROJECTS)],
    "limits": {"requests_per_minute": 10**9, "route_requests_per_second": 10**9},
    "operation_duration_ms": 0,
}


def _run(client: httpx.Client, ids: list[str], count: int, rng: random.Random) -> float:
    """Send ``count`` requests of the mix; return requests per second."""
    cursors: list[str | None] = [None, *ids[399::400]]
    started = time.perf_counter()
    for n in range(count):
        pick = rng.random()
        if pick < 0.6:
            answer = client.get(f"/projects/{rng.choice(ids)}")
        elif pick < 0.8:
            cursor = rng.choice(cursors)
            params: dict[str, str | int] = {"limit": 400}
            if cursor:
                params["cursor"] = cursor
            answer = client.get("/projects", params=params)
        else:
            answer = client.patch(
                f"/projects/{rng.choice(ids)}", json={"project": {"name": f"renamed-{n}"}}
            )
        answer.raise_for_status()
    return count / (time.perf_counter() - started)


def main() -> None:
    """Measure and print both figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=3000, help="requests per transport")
    args = parser.parse_args()
    emulator = Emulator(None, seed_from_mapping(SEED))
    headers = {"Authorization": "Bearer bench-key"}
    transport = httpx.WSGITransport(app=emulator)
    with httpx.Client(transport=transport, base_url="http://e/api/v2", headers=headers) as client:
        ids: list[str] = []
        params: dict[str, str | int] = {"limit": 400}
        while True:
            page = client.get("/projects", params=params).json()["projects"]
            ids += [p["id"] for p in page]
            if len(page) < 400:
                break
            params = {"limit": 400, "cursor": ids[-1]}
        in_process = _run(client, ids, args.requests, random.Random(1))
    with serve(emulator) as running, httpx.Client(base_url=running.url, headers=headers) as client:
        loopback = _run(client, ids, args.requests, random.Random(2))
    emulator.close()
    print(f"projects: {len(ids)}; mix: 60% get, 20% list limit=400, 20% patch")
    print(f"in-process (WSGITransport): {in_process:8.0f} requests/s")
    print(f"loopback (HTTP/1.1 keep-alive): {loopback:8.0f} requests/s")


if __name__ == "__main__":
    main()
