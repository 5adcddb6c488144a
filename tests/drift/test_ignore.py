"""``.fleetignore`` parsing and matching, merged with the Fleet's ``policy.drift_ignore``."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.app.drift_ignore import (
    ignore_file_for,
    is_ignored,
    load_ignore_rules,
    parse_ignore_text,
)
from reconciler.core.drift_model import DriftItem, DriftKind
from reconciler.core.model import DriftIgnore
from reconciler.errors import ManifestError

pytestmark = pytest.mark.unit

QUOTA = DriftItem(DriftKind.CHANGED, "cust-42", "quota.data_transfer_bytes", 1, 2)
BRANCH = DriftItem(DriftKind.EXPIRED_BRANCH, "agent-run-7", "branches.scratch-1")
UNMANAGED = DriftItem(DriftKind.UNMANAGED_PROJECT, None, "projects.legacy-app", resource="p-1")


def test_lines_comments_and_one_or_two_globs():
    rules = parse_ignore_text(
        "# accepted drift\n\ncust-* quota.data_transfer_bytes  # billing decides\n"
        "branches.scratch*\n",
        ".fleetignore",
    )
    assert rules == [
        DriftIgnore(path="quota.data_transfer_bytes", tenant="cust-*"),
        DriftIgnore(path="branches.scratch*", tenant="*"),
    ]
    assert is_ignored(QUOTA, rules)
    assert is_ignored(BRANCH, rules)
    assert not is_ignored(DriftItem(DriftKind.CHANGED, "agent-1", QUOTA.path), rules)


def test_items_of_no_tenant_need_a_rule_for_every_tenant():
    assert is_ignored(UNMANAGED, [DriftIgnore(path="projects.legacy-*")])
    assert not is_ignored(UNMANAGED, [DriftIgnore(path="projects.legacy-*", tenant="cust-*")])
    assert not is_ignored(UNMANAGED, [DriftIgnore(path="projects.other")])


def test_a_line_with_three_fields_is_a_located_problem():
    with pytest.raises(ManifestError) as caught:
        parse_ignore_text("ok.path\na b c\n", "fleet/.fleetignore")
    [problem] = caught.value.problems
    assert (problem.path, problem.line) == ("fleet/.fleetignore", 2)
    assert "found 3 fields" in problem.message


def test_the_file_sits_next_to_the_manifests_and_adds_to_the_policy(tmp_path: Path):
    fleet_dir = tmp_path / "fleet"
    fleet_dir.mkdir()
    manifest = fleet_dir / "fleet.yaml"
    manifest.write_text("")
    assert ignore_file_for(fleet_dir) == fleet_dir / ".fleetignore"
    assert ignore_file_for(manifest) == fleet_dir / ".fleetignore"
    policy = [DriftIgnore(path="compute.*", tenant="agent-*")]
    assert load_ignore_rules(fleet_dir, policy) == policy
    (fleet_dir / ".fleetignore").write_text("cust-42 quota.*\n")
    assert load_ignore_rules(manifest, policy) == [
        *policy,
        DriftIgnore(path="quota.*", tenant="cust-42"),
    ]
