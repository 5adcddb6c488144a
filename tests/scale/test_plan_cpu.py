"""Plan CPU and memory at scale, and linear freshness checks (issue 16), at a small scale.

``bench/plan_scale.py --modes cli`` and ``bench/fresh_scale.py`` measure the figures in
docs/scale.md; these tests pin the causes of the old costs without timing anything: the plan
file and the text are produced in pieces (never ``json.dumps(indent=...)`` of the whole plan),
the seal is computed once from the canonical form, and ``check_fresh``, the vouch and the
renderers read each fleet-wide collection a bounded number of times, whatever the fleet size.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import pytest

from reconciler.app.planning import save_plan
from reconciler.apply.applier import check_fresh
from reconciler.apply.context import ApplyContext, TenantBinding
from reconciler.core import diff, plan_vouch
from reconciler.core.model import LiveApiKey, LiveFleet, LiveProject
from reconciler.core.plan import Blocker, Plan
from reconciler.core.plan_codec import (
    canonical_json,
    plan_digest,
    plan_from_text,
    plan_to_dict,
    seal_of,
)
from reconciler.core.plan_payloads import AdoptProject
from reconciler.core.planner import build_plan
from reconciler.errors import StalePlanError
from reconciler.render import json as render_json_module
from reconciler.render.json import json_chunks, render_json
from reconciler.render.text import render_text, text_chunks
from tests.cli.example import example_workdir
from tests.core import factories as f
from tests.core.scenarios import SCENARIOS, plan_for
from tests.support.cli import run_in_process

TENANTS = 40


class CountingProjects(dict[str, LiveProject]):
    """Live projects that count how often all of them are walked."""

    walks = 0

    def values(self) -> Any:
        CountingProjects.walks += 1
        return super().values()


class CountingKeys(tuple[LiveApiKey, ...]):
    """An org's observed keys that count how often they are walked."""

    walks = 0

    def __iter__(self) -> Iterator[LiveApiKey]:
        CountingKeys.walks += 1
        return super().__iter__()


class CountingBlockers(tuple[Blocker, ...]):
    """A plan's blockers that count how often they are walked."""

    walks = 0

    def __iter__(self) -> Iterator[Blocker]:
        CountingBlockers.walks += 1
        return super().__iter__()


def _fleet(count: int) -> tuple[Plan, LiveFleet, dict[str, TenantBinding]]:
    """``count`` live tenants with a runtime key each, adopted by name (every one has a step)."""
    tenants = [f.tenant(f"cust-{i:03d}", api_keys=["runtime"]) for i in range(count)]
    projects = CountingProjects({p.id: p for p in map(f.live_project_for, tenants)})
    keys = [f.key_for(t, "runtime", i) for i, t in enumerate(tenants)]
    live = LiveFleet(
        projects=projects,
        api_keys={f.ORG_FREE: CountingKeys(keys), f.ORG_PAID: CountingKeys()},
        observed_orgs=frozenset({f.ORG_FREE, f.ORG_PAID}),
    )
    plan = build_plan(f.desired(*tenants), live, f.ledger(), f.options())
    bindings = {t.name: TenantBinding(t.name, t.project_name, t.org_id) for t in tenants}
    return plan, live, bindings


def _context(bindings: dict[str, TenantBinding]) -> ApplyContext:
    # check_fresh reads only the bindings; nothing here is contacted.
    none = cast(Any, None)
    return ApplyContext(none, none, none, None, bindings, none)


def test_check_fresh_is_linear_in_live_projects_and_keys() -> None:
    plan, live, bindings = _fleet(TENANTS)
    CountingProjects.walks = CountingKeys.walks = 0
    check_fresh(plan, _context(bindings), live, frozenset({f.ORG_FREE, f.ORG_PAID}))
    # Once to index projects by name and once per org to index keys: not once per tenant.
    assert CountingProjects.walks == 1
    assert CountingKeys.walks == 2


def test_check_fresh_still_finds_a_tenant_whose_project_moved_by_name() -> None:
    plan, live, bindings = _fleet(3)
    moved = dict(live.projects)
    twin = next(iter(moved.values()))
    # A second project with the first tenant's name makes its match ambiguous: stale.
    moved["prj-twin"] = LiveProject(**{**twin.__dict__, "id": "prj-twin"})
    changed = LiveFleet(moved, live.api_keys, live.observed_orgs)
    with pytest.raises(StalePlanError) as caught:
        check_fresh(plan, _context(bindings), changed, frozenset({f.ORG_FREE, f.ORG_PAID}))
    assert caught.value.tenants == (twin.name,)


def test_vouch_encodes_each_step_once_per_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    saved, _, _ = _fleet(TENANTS)
    replan, _, _ = _fleet(TENANTS)
    calls: list[Any] = []

    def counted(value: Any) -> str:
        calls.append(value)
        return canonical_json(value)

    monkeypatch.setattr(plan_vouch, "canonical_json", counted)
    assert plan_vouch.unvouched_steps(saved, replan) == []
    assert len(calls) == 2 * len(saved.steps)  # one signature per step of each plan


def test_vouch_still_names_the_fields_that_differ() -> None:
    saved, _, _ = _fleet(2)
    step = saved.steps[0]
    assert isinstance(step.payload, AdoptProject)
    changed = replace(step, payload=replace(step.payload, handover_from="someone"))
    edited = Plan(**{**saved.__dict__, "steps": (changed,)})
    [mismatch] = plan_vouch.unvouched_steps(edited, saved)
    assert mismatch.why == "after differ from what the manifests plan"


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_plan_file_pieces_are_json_dumps_of_the_codec_document(name: str) -> None:
    plan = plan_for(name)
    document = plan_to_dict(plan)
    assert render_json(plan) == json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    # The one-pass seal is the seal over the whole canonical document.
    assert document["seal"] == seal_of(document) == plan_digest(plan)


def test_indented_values_match_json_dumps_for_every_json_shape() -> None:
    shapes: list[Any] = [
        {"a": [1, 2.5, {"b": None, "c": True}], "d": {}, "e": [], "f": float("nan")},
        {"g": -float("inf"), "h": 1e16, "i": 'é\n"x', "j": {1: 2}, "k": (1, []), "m": [[[]]]},
        {"n": {"x": {"y": {}}}, "o": 10**30, "p": {"a": 1, 2: 3}, "q": ["s", {"t": "u"}]},
        [],
        {},
        "x",
        3,
        None,
    ]
    for shape in shapes:
        parts: list[str] = []
        render_json_module._indented(shape, "\n", parts)
        assert "".join(parts) == json.dumps(shape, indent=2, ensure_ascii=False)


def test_saving_a_plan_never_renders_it_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan, _, _ = _fleet(TENANTS)
    real_dumps = json.dumps

    def refuse_indented(value: Any, *args: Any, **kwargs: Any) -> str:
        assert kwargs.get("indent") is None, "the whole plan went through json.dumps(indent=2)"
        return real_dumps(value, *args, **kwargs)

    monkeypatch.setattr(json, "dumps", refuse_indented)
    target = tmp_path / "plan.json"
    save_plan(plan, target)
    monkeypatch.undo()
    assert target.read_text(encoding="utf-8") == render_json(plan)
    assert plan_from_text(target.read_text(encoding="utf-8")) == plan  # the seal holds
    pieces = list(json_chunks(plan))
    assert len(pieces) > len(plan.steps)  # about one piece per step


def test_text_plan_is_written_per_tenant_section() -> None:
    plan, _, _ = _fleet(TENANTS)
    pieces = list(text_chunks(plan, color=False))
    assert "".join(pieces) == render_text(plan, color=False)
    assert len(pieces) == TENANTS + 2  # header, one per tenant, warnings and summary
    assert all(piece.endswith("\n") for piece in pieces)


def test_blockers_are_grouped_once_per_plan_not_per_tenant() -> None:
    tenants = [f.tenant(f"cust-{i:03d}") for i in range(TENANTS)]
    unlisted = f.live(observed_orgs=())  # no org listed completely: every create is blocked
    blocked = build_plan(f.desired(*tenants), unlisted, f.ledger(), f.options())
    assert len(blocked.blockers) == TENANTS
    plan = Plan(**{**blocked.__dict__, "blockers": CountingBlockers(blocked.blockers)})
    CountingBlockers.walks = 0
    text = render_text(plan, color=False)
    assert text.count("! blocked:") == TENANTS
    assert CountingBlockers.walks <= 3  # grouping, summary and by_tenant: not once per tenant


def test_created_fields_are_every_leaf_of_the_desired_view() -> None:
    after = {"a.b": 1, "a": {"b": 2, "c": {}}, "q": None, "z": {"y": {"x": [1]}}, "n": "t"}
    origins = {"a": "A", "z.y.x": "ZYX", "n": "N"}
    general = diff._as_changes(
        [(path, None, new) for path, _, new in diff._leaves([], None, after) if path],
        origins,
        "p.",
        "d",
    )
    created = diff.field_changes(None, after, origins, prefix="p.", default_origin="d")
    assert created == general
    assert [(c.path, c.new, c.origin) for c in created] == [
        ("p.a.b", 1, "d"),  # the later "a.b" key wins over a → b, as in the general path
        ("p.n", "t", "N"),
        ("p.q", None, "d"),
        ("p.z.y.x", [1], "ZYX"),
    ]


@pytest.mark.integration
def test_plan_command_spares_the_collector_and_then_restores_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The long-lived data is frozen while the command builds it; the heap is ordinary after."""
    workdir = example_workdir(tmp_path, monkeypatch)
    frozen: list[int] = []
    real_freeze = gc.freeze

    def counted_freeze() -> None:
        real_freeze()
        frozen.append(gc.get_freeze_count())

    monkeypatch.setattr(gc, "freeze", counted_freeze)
    thresholds = gc.get_threshold()
    result = run_in_process(["--sandbox", "plan", "fleet", "-o", "plan.json"])
    assert result.code == 0, result.text
    assert len(frozen) == 3 and all(count > 0 for count in frozen)  # modules, manifests, plan
    assert gc.get_freeze_count() == 0 and gc.get_threshold() == thresholds
    text = (workdir / "plan.json").read_text(encoding="utf-8")
    assert plan_from_text(text).steps  # the saved plan reads back, seal and all
    assert result.out.startswith("neon-fleet plan ·")
