"""Rate budgets per Neon account: each account its own buckets and 429 backoff; keys know theirs."""

from __future__ import annotations

import copy
import pickle

import httpx
import pytest

from reconciler.core.model import FleetConfig, OrgRef
from reconciler.credentials import PERSONAL_ACCOUNT, Credentials, credentials_from_env, org_account
from reconciler.errors import UsageError
from reconciler.neon import NeonClient, RateLimiter, RetryPolicy
from reconciler.neon.apikey import ApiKey, key_account
from reconciler.neon.ratelimit import RATE_LIMIT_SCOPE_ENV, RateBudget
from tests.neon.fakes import BASE_URL, FakeTime

ORG_A, ORG_B = "org:org-a", "org:org-b"


def _limiter(fake: FakeTime) -> RateLimiter:
    return RateLimiter(
        account_per_minute=600, account_burst=1, route_per_second=1e6, route_burst=1e6,
        clock=fake.clock, sleep=fake.sleep,
    )  # fmt: skip


def test_two_accounts_do_not_share_tokens() -> None:
    fake = FakeTime()
    limiter = _limiter(fake)
    limiter.acquire("GET /projects", ORG_A)
    limiter.acquire("GET /projects", ORG_B)  # B's own first token: no wait although A's is spent
    assert fake.sleeps == []
    limiter.acquire("GET /projects", ORG_A)
    assert fake.sleeps == [pytest.approx(0.1)]  # 600/min: A's next token is 0.1 s away
    assert limiter.accounts == (ORG_A, ORG_B)
    assert limiter.requests_by_account() == {ORG_A: 2, ORG_B: 1}


def test_one_accounts_429_backoff_does_not_slow_the_other() -> None:
    fake = FakeTime()
    limiter = _limiter(fake)
    limiter.penalize(account=ORG_A)
    assert limiter.factor_of(ORG_A) == pytest.approx(0.5)
    assert limiter.factor_of(ORG_B) == 1.0
    assert limiter.penalties == 1
    limiter.acquire("GET /p", ORG_B)
    limiter.acquire("GET /p", ORG_B)
    assert fake.sleeps == [pytest.approx(0.1)]  # B at its full 10/s
    limiter.acquire("GET /p", ORG_A)
    limiter.acquire("GET /p", ORG_A)
    assert fake.sleeps[-1] == pytest.approx(0.2, rel=0.01)  # A at half its rate


def test_the_process_scope_shares_one_budget_like_before() -> None:
    fake = FakeTime()
    limiter = RateLimiter(clock=fake.clock, sleep=fake.sleep)
    limiter.reconfigure(RateBudget(account_per_minute=600, scope="process"))
    assert limiter.budget.scope == "process"
    for index in range(40):  # the standard burst, spent by both accounts together
        limiter.acquire("GET /p", ORG_A if index % 2 else ORG_B)
    limiter.acquire("GET /p", ORG_B)
    assert fake.sleeps == [pytest.approx(0.1)]
    limiter.penalize(account=ORG_A)
    assert limiter.factor_of(ORG_B) == pytest.approx(0.5)
    assert limiter.accounts == ("",)


def test_the_rate_limit_scope_comes_from_the_environment() -> None:
    assert RateBudget.from_env({}).scope == "account"
    assert RateBudget.from_env({RATE_LIMIT_SCOPE_ENV: "process"}).scope == "process"
    assert "for the whole process" in RateBudget(scope="process").describe()
    with pytest.raises(UsageError, match=f"{RATE_LIMIT_SCOPE_ENV}: bad scope 'org'"):
        RateBudget.from_env({RATE_LIMIT_SCOPE_ENV: "org"})


def test_calls_without_an_account_share_the_account_of_plain_keys() -> None:
    fake = FakeTime()
    limiter = _limiter(fake)
    limiter.acquire("GET /p", ORG_A)
    limiter.penalize(account=ORG_A)
    limiter.acquire("GET /p")  # no account: the account "" of plain keys
    assert limiter.accounts == ("", ORG_A)
    assert limiter.factor_of(ORG_A) == pytest.approx(0.5) and limiter.factor_of("") == 1.0
    assert limiter.factor == 1.0
    assert key_account("plain token") == ""


def test_credentials_give_each_key_its_account() -> None:
    plain = Credentials(org_keys={"org-a": "ta"}, personal_key="tp")
    assert key_account(plain.org_key("org-a")) == org_account("org-a") == ORG_A
    assert key_account(plain.transfer_key()) == PERSONAL_ACCOUNT
    fleet = FleetConfig(
        name="f",
        orgs={"a": OrgRef(alias="a", id="org-a", api_key_env="KEY_A")},
        personal_api_key_env="KEY_ME",
        region="aws-us-east-2",
        pg_version=17,
    )
    from_env = credentials_from_env(fleet, {"KEY_A": "ta", "KEY_ME": "tp"})
    assert key_account(from_env.org_key("org-a")) == ORG_A
    assert key_account(from_env.transfer_key()) == PERSONAL_ACCOUNT
    assert "ta" not in repr(from_env.org_key("org-a"))
    key = from_env.org_key("org-a")
    for clone in (copy.copy(key), pickle.loads(pickle.dumps(key))):
        assert key_account(clone) == ORG_A


def test_the_client_spends_each_keys_account_and_backs_off_only_there() -> None:
    """A 429 answered to org A's key slows org A; org B's calls keep the full rate."""
    fake = FakeTime()
    limiter = _limiter(fake)
    answered_429 = False

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal answered_429
        if request.headers["Authorization"] == "Bearer ta" and not answered_429:
            answered_429 = True
            return httpx.Response(429, json={"code": "", "message": "slow down"})
        return httpx.Response(200, json={"project": {"id": "p1"}})

    client = NeonClient(
        BASE_URL, transport=httpx.MockTransport(handler), limiter=limiter,
        retry=RetryPolicy(jitter=0.0), sleep=fake.sleep, clock=fake.clock,
    )  # fmt: skip
    credentials = Credentials(org_keys={"org-a": "ta", "org-b": "tb"})
    with client:
        client.request(credentials.org_key("org-a"), "GET", "/projects/p1")
        client.request(credentials.org_key("org-b"), "GET", "/projects/p1")
    assert limiter.accounts == (ORG_A, ORG_B)
    assert limiter.factor_of(ORG_A) < 1.0
    assert limiter.factor_of(ORG_B) == 1.0


def test_a_429_storm_is_timed_per_account_not_per_client() -> None:
    """An answer for org B's key does not end org A's storm: its read budget keeps counting."""
    fake = FakeTime()
    client = NeonClient(
        BASE_URL, transport=httpx.MockTransport(lambda _r: httpx.Response(200, json={})),
        limiter=_limiter(fake), retry=RetryPolicy(jitter=0.0), sleep=fake.sleep, clock=fake.clock,
    )  # fmt: skip
    credentials = Credentials(org_keys={"org-a": "ta", "org-b": "tb"})
    http = client._http
    storm_a = http._storm_of(key_account(credentials.org_key("org-a")))
    assert storm_a is http._storm_of(ORG_A)
    assert storm_a is not http._storm_of(ORG_B)
    began, _ = storm_a.refused(fake.clock())
    with client:
        client.request(credentials.org_key("org-b"), "GET", "/projects/p1")
    assert storm_a.refused(fake.clock() + 1.0)[0] == began  # still the same storm


def test_a_plain_org_key_is_labelled_once_not_per_call() -> None:
    plain = Credentials(org_keys={"org-a": "ta"}, org_key_sources={"org-a": "NEON_A_KEY"})
    first = plain.org_key("org-a")
    assert isinstance(first, ApiKey) and first.account == ORG_A
    assert first.label == "the key of org org-a from NEON_A_KEY"
    assert plain.org_key("org-a") is first
    assert plain == Credentials(org_keys={"org-a": "ta"}, org_key_sources={"org-a": "NEON_A_KEY"})
    with pytest.raises(UsageError, match="no API key for org org-b"):
        plain.org_key("org-b")
