"""Every broken fleet of the corpus is rejected with exactly its expected problems."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from reconciler.errors import ManifestError
from reconciler.manifests import load_fleet
from tests.manifests.invalid_cases import INVALID_DIR, InvalidCase, invalid_cases

CASES = invalid_cases()
#: Fixed, although no case depends on it (see the corpus README).
NOW = datetime(2026, 1, 15, tzinfo=UTC)


def test_the_corpus_is_large_and_every_case_expects_something():
    assert len(CASES) >= 30
    assert all(case.expected for case in CASES), [c.name for c in CASES if not c.expected]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case_is_rejected_with_exactly_the_expected_problems(case: InvalidCase, monkeypatch):
    monkeypatch.chdir(INVALID_DIR)
    with pytest.raises(ManifestError) as caught:
        load_fleet(case.target, now=NOW)
    assert tuple(str(p) for p in caught.value.problems) == case.expected
    assert str(caught.value) == "\n".join(case.expected)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case_gives_the_same_answer_at_any_time(case: InvalidCase, monkeypatch):
    monkeypatch.chdir(INVALID_DIR)
    with pytest.raises(ManifestError) as caught:
        load_fleet(case.target)  # the real clock
    assert tuple(str(p) for p in caught.value.problems) == case.expected


def test_required_topics_are_all_covered():
    names = {case.name for case in CASES}
    required = {
        "malformed-yaml", "not-a-mapping", "wrong-apiversion", "unknown-kind",
        "missing-metadata-name", "no-fleet", "two-fleets", "duplicate-tenant", "unknown-tier",
        "unknown-org-alias", "negative-quota", "non-integer-quota", "unknown-quota-key",
        "min-cu-above-max", "cu-out-of-range", "cu-spread-over-8",
        "suspend-timeout-out-of-range", "branch-parent-missing", "branch-cycle",
        "expires-in-over-30d", "expiry-on-protected", "expires-in-and-at", "too-many-branches",
        "template-unknown-placeholder", "template-duplicate-names", "template-name-too-long",
        "template-bad-chars", "unknown-spec-key", "empty-directory", "bad-duration",
        "duplicate-api-key", "duplicate-branch-name", "ignore-changes-unknown-path",
        "bad-pg-version", "bad-ledger-url", "nonexistent-path",
    }  # fmt: skip
    assert required <= names, sorted(required - names)


def test_a_credential_in_a_bad_ledger_url_is_never_repeated(monkeypatch):
    monkeypatch.chdir(INVALID_DIR)
    with pytest.raises(ManifestError) as caught:
        load_fleet("bad-ledger-url.yaml", now=NOW)
    assert "hunter2" not in str(caught.value)
