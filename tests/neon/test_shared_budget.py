"""The limiter's optional shared source: tokens leased in blocks and spent locally."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from reconciler.neon.ratelimit import RateLimiter
from reconciler.neon.shared_budget import SharedBudget


@dataclass(frozen=True)
class Answer:
    granted: int
    wait: float = 0.0


@dataclass
class FakeStore:
    """A shared store that grants ``supply`` tokens in total, then answers "wait"."""

    supply: int
    asked: list[tuple[str, int]] = field(default_factory=list)

    def lease_tokens(self, account: str, want: int, per_second: float, capacity: float) -> Answer:
        self.asked.append((account, want))
        granted = min(want, self.supply)
        self.supply -= granted
        return Answer(granted, 0.0 if granted else 0.25)


def test_shared_budget_leases_a_block_and_spends_it_before_asking_again() -> None:
    store = FakeStore(supply=100)
    budget = SharedBudget(store, per_second=10.0, capacity=10.0, block=10)
    for _ in range(25):
        budget.take("org:a")
    assert store.asked == [("org:a", 10)] * 3
    budget.take("org:b")  # another account has its own pool
    assert store.asked[-1] == ("org:b", 10)


def test_shared_budget_waits_as_the_store_says_when_it_grants_nothing() -> None:
    slept: list[float] = []
    store = FakeStore(supply=1)

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        store.supply = 5  # the bucket refilled meanwhile

    budget = SharedBudget(store, per_second=4.0, capacity=10.0, block=10, sleep=sleep)
    assert budget.take("org:a") == 0.0
    assert budget.take("org:a") == 0.25
    assert slept == [0.25]


def test_rate_limiter_draws_every_request_from_the_shared_budget_of_its_account() -> None:
    store = FakeStore(supply=1000)
    limiter = RateLimiter(account_per_minute=60_000, route_per_second=10_000, sleep=lambda _: None)
    limiter.share(SharedBudget(store, per_second=100.0, capacity=10.0, block=5))

    def worker() -> None:
        for _ in range(50):
            limiter.acquire("GET /projects", "org:one")

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # 200 requests, leased in blocks of 5, never more than asked for: no token spent twice.
    assert sum(want for _, want in store.asked) == 200
    assert 1000 - store.supply == 200
    limiter.share(None)
    limiter.acquire("GET /projects")
    assert 1000 - store.supply == 200
