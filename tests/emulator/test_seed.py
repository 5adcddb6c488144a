"""Seed files: the issue's example parses, mistakes are clear UsageErrors, seeding is idempotent."""

from __future__ import annotations

import textwrap

import pytest

from reconciler.emulator import Emulator, load_seed, seed_from_mapping
from reconciler.errors import UsageError

ISSUE_SEED = """
orgs:
  - {id: org-free-1, name: Sponsored free, plan: free, project_limit: 30000}
  - {id: org-paid-1, name: Paid, plan: scale}
keys:
  - {token: personal-admin, kind: personal, orgs: {org-free-1: admin, org-paid-1: admin}}
  - {token: org-free-key, kind: org, org: org-free-1}
  - {token: org-paid-key, kind: org, org: org-paid-1}
  - {token: tenant-key, kind: project, org: org-paid-1, project: some-project-id}
projects:
  - {id: legacy-app-1, name: legacy-app-1, org: org-free-1, integration: github}
limits: {requests_per_minute: 700, route_requests_per_second: 40, consumption_per_minute: 50}
operation_duration_ms: 500
latency_ms: 0
faults: {server_error_rate: 0.0, drop_rate: 0.0, lost_response_rate: 0.0}
"""


def test_issue_example_parses(tmp_path):
    path = tmp_path / "seed.yaml"
    path.write_text(ISSUE_SEED)
    seed = load_seed(path)
    assert [org.plan for org in seed.orgs] == ["free", "scale"]
    assert seed.orgs[0].project_limit == 30000 and seed.orgs[1].project_limit is None
    assert [key.kind for key in seed.keys] == ["personal", "org", "org", "project"]
    assert seed.projects[0].integration == "github"
    assert seed.limits.requests_per_minute == 700 and seed.limits.operation_duration_ms == 500
    assert "personal-admin" not in repr(seed)  # tokens stay out of reprs


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"orgs": [{"id": "o", "plan": "gold"}]}, "plan 'gold'"),
        ({"orgs": [{"id": "Bad Id"}]}, "must match"),
        ({"orgs": [{"id": "o"}, {"id": "o"}]}, "duplicate org id"),
        ({"keys": [{"token": "t", "kind": "org", "org": "missing"}]}, "unknown org"),
        ({"keys": [{"token": "t", "kind": "robot"}]}, "kind 'robot'"),
        ({"orgs": [{"id": "o"}], "keys": [{"token": "t", "kind": "project", "org": "o"}]},
         "project is required"),
        ({"orgs": [{"id": "o"}], "projects": [{"name": "p", "org": "o", "integration": "gitlab"}]},
         "integration"),
        ({"faults": {"drop_rate": 1.5}}, "between 0 and 1"),
        ({"limits": {"requests_per_minute": 0}}, "at least 1"),
        ({"colour": "blue"}, "unknown key(s) colour"),
    ],
)  # fmt: skip
def test_bad_seeds_are_usage_errors(document, message):
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        seed_from_mapping(document)


def test_unreadable_and_invalid_files(tmp_path):
    with pytest.raises(UsageError, match="cannot read"):
        load_seed(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("orgs: [")
    with pytest.raises(UsageError, match="not valid YAML"):
        load_seed(broken)
    listed = tmp_path / "list.yaml"
    listed.write_text(textwrap.dedent("- a\n- b\n"))
    with pytest.raises(UsageError, match="mapping"):
        load_seed(listed)


def test_reseeding_never_duplicates(tmp_path):
    seed = seed_from_mapping(
        {
            "orgs": [{"id": "o-1", "plan": "scale"}],
            "keys": [{"token": "k", "kind": "org", "org": "o-1"}],
            "projects": [
                {"name": "no-id", "org": "o-1"},
                {"id": "with-id", "name": "w", "org": "o-1"},
            ],
        }
    )
    emulator = Emulator(tmp_path / "s.db", seed)
    emulator.ensure_seed(seed)
    emulator.ensure_seed(seed)
    with emulator.store.transaction() as conn:
        assert conn.execute("SELECT COUNT(*) FROM projects").fetchone()[0] == 2
        assert conn.execute("SELECT COUNT(*) FROM api_keys").fetchone()[0] == 1
        assert conn.execute("SELECT COUNT(*) FROM orgs").fetchone()[0] == 1
        stored = [row[0] for row in conn.execute("SELECT token_sha256 FROM api_keys")]
    assert stored != ["k"]  # only the hash is stored
    emulator.close()
