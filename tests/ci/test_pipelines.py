"""The example CI pipelines: they parse, trigger as documented, and run only real CLI commands.

Every ``fleet …`` command line in a GitHub Actions ``run:`` block or a GitLab ``script:`` entry
is split like a shell would, its ``$VARIABLES`` are expanded from the pipeline's own
``env:``/``variables:``, and the result is parsed by the real click CLI: a flag that does not
exist, a bad choice or a missing argument fails here, not in a user's CI.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from reconciler.cli import cli
from reconciler.ledger import LEDGER_ENV
from reconciler.manifests import load_fleet

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
CI = REPO / "fleet.example" / "ci"
WORKFLOWS = CI / "github" / "workflows"
GITLAB = CI / "gitlab" / ".gitlab-ci.yml"
_OPERATORS = {"|", "||", "&&", ";", "&", "(", ")", "{", "}"}
_VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")


def load(path: Path) -> dict[Any, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), path
    return data


def triggers(workflow: Mapping[Any, Any]) -> Mapping[str, Any]:
    # YAML 1.1 reads the key `on` as the boolean True.
    found = workflow.get("on", workflow.get(True))
    assert isinstance(found, dict)
    return found


def shell_commands(script: str) -> Iterator[list[str]]:
    """Simple commands of a shell script, redirections dropped, operators split off."""
    joined = script.replace("\\\n", " ")
    for line in joined.splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        try:
            tokens = list(lexer)
        except ValueError:
            assert not re.search(r"(^|[;&|(]\s*)fleet\s", line), f"cannot split: {line}"
            continue
        command: list[str] = []
        skip_next = False
        for token in tokens:
            if skip_next:
                skip_next = False
            elif token in _OPERATORS:
                if command:
                    yield command
                command = []
            elif token.startswith((">", "<")):
                skip_next = True
            else:
                command.append(token)
        if command:
            yield command


def expand(token: str, variables: Mapping[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        assert name in variables, f"${name} is not defined by the pipeline"
        return variables[name]

    return _VARIABLE.sub(value, token)


def fleet_invocations(script: str, variables: Mapping[str, str]) -> list[list[str]]:
    return [
        [expand(t, variables) for t in command[1:]]
        for command in shell_commands(script)
        if command[0] == "fleet"
    ]


def parse_with_cli(args: list[str]) -> click.Context:
    """Parse ``fleet ARGS`` with the real CLI (public click API only); nothing runs."""
    takes_value = {
        opt
        for param in cli.params
        if isinstance(param, click.Option) and not param.is_flag and not param.count
        for opt in param.opts
    }
    index, group_args = 0, []
    while args[index].startswith("-"):
        option = args[index]
        group_args.append(option)
        if option in takes_value:
            group_args.append(args[index + 1])
            index += 1
        index += 1
    name, rest = args[index], args[index + 1 :]
    group_ctx = cli.make_context("fleet", [*group_args, name])
    command = cli.get_command(group_ctx, name)
    assert command is not None, f"fleet has no command {name!r}"
    return command.make_context(name, list(rest), parent=group_ctx)


def github_runs(workflow: Mapping[Any, Any]) -> Iterator[tuple[str, Mapping[str, str]]]:
    """(run script, variables visible to it) for every step of every job."""
    top = {str(k): str(v) for k, v in workflow.get("env", {}).items()}
    for job in workflow["jobs"].values():
        job_env = {**top, **{str(k): str(v) for k, v in job.get("env", {}).items()}}
        for step in job["steps"]:
            if "run" in step:
                step_env = {str(k): str(v) for k, v in step.get("env", {}).items()}
                yield step["run"], {**job_env, **step_env}


def gitlab_scripts(pipeline: Mapping[Any, Any]) -> Iterator[tuple[str, str, Mapping[str, str]]]:
    """(job name, script entry, variables) for every job script line."""
    top = {str(k): str(v) for k, v in pipeline.get("variables", {}).items()}
    for name, job in pipeline.items():
        if isinstance(job, dict) and "script" in job:
            variables = {**top, **{str(k): str(v) for k, v in job.get("variables", {}).items()}}
            for entry in job["script"]:
                yield str(name), entry, variables


def all_invocations() -> list[tuple[str, list[str]]]:
    found = []
    for path in sorted(WORKFLOWS.glob("*.yml")):
        for script, variables in github_runs(load(path)):
            found += [(path.name, args) for args in fleet_invocations(script, variables)]
    for job, script, variables in gitlab_scripts(load(GITLAB)):
        found += [(f"gitlab:{job}", args) for args in fleet_invocations(script, variables)]
    return found


def test_every_fleet_command_in_the_pipelines_parses_with_the_real_cli():
    invocations = all_invocations()
    commands = sorted({(where, args[0]) for where, args in invocations})
    assert commands == [
        ("fleet-apply.yml", "apply"),
        ("fleet-drift.yml", "drift"),
        ("fleet-plan.yml", "plan"),
        ("fleet-plan.yml", "validate"),
        ("gitlab:apply", "apply"),
        ("gitlab:drift", "drift"),
        ("gitlab:plan", "plan"),
        ("gitlab:validate", "validate"),
    ]
    for where, args in invocations:
        ctx = parse_with_cli(args)
        assert ctx.command.name == args[0], where
        if args[0] in ("plan", "drift"):
            assert ctx.params["detailed_exitcode"] is True, where
            assert ctx.params["fmt"] == "markdown", where
            assert ctx.params["path"] == Path("fleet"), where


def test_a_misspelt_flag_would_be_caught():
    with pytest.raises(click.NoSuchOption):
        parse_with_cli(["plan", "fleet", "--detailed-exit-code"])
    with pytest.raises(click.BadParameter):
        parse_with_cli(["drift", "fleet", "--format", "html"])
    assert parse_with_cli(["--no-color", "--ledger", "sqlite:///x.db", "drift", "f"]).params[
        "path"
    ] == Path("f")


def test_shell_splitting_finds_commands_after_operators_and_drops_redirections():
    script = (
        'set +e\nx=1 && fleet plan "$P" --out p.json > plan.md\nfleet apply \\\n  p.json | tee a'
    )
    assert fleet_invocations(script, {"P": "fleet"}) == [
        ["plan", "fleet", "--out", "p.json"],
        ["apply", "p.json"],
    ]
    with pytest.raises(AssertionError, match=r"\$Q is not defined"):
        fleet_invocations("fleet plan $Q", {})


def test_github_plan_comments_summarises_and_uploads_the_plan():
    workflow = load(WORKFLOWS / "fleet-plan.yml")
    assert "pull_request" in triggers(workflow)
    assert workflow["permissions"]["pull-requests"] == "write"
    [job] = workflow["jobs"].values()
    steps = job["steps"]
    scripts = "\n".join(s.get("run", "") for s in steps)
    assert "$GITHUB_STEP_SUMMARY" in scripts
    assert "<!-- neon-fleet-plan -->" in scripts  # one sticky comment, found again by its marker
    assert "issues/comments/$existing" in scripts and "gh pr comment" in scripts
    [upload] = [s for s in steps if str(s.get("uses", "")).startswith("actions/upload-artifact")]
    assert upload["with"]["name"] == "fleet-plan"
    assert "plan.json" in upload["with"]["path"]


def test_github_apply_runs_on_main_with_the_pull_requests_plan_file():
    workflow = load(WORKFLOWS / "fleet-apply.yml")
    assert triggers(workflow)["push"]["branches"] == ["main"]
    assert workflow["concurrency"]["cancel-in-progress"] is False
    [job] = workflow["jobs"].values()
    scripts = "\n".join(s.get("run", "") for s in job["steps"])
    assert "--workflow fleet-plan.yml" in scripts
    assert "--name fleet-plan --dir planned" in scripts
    applied = [a for _, a in all_invocations() if a[0] == "apply"]
    assert ["apply", "planned/plan.json", "-f", "fleet", "--format", "text"] in applied


def test_ci_apply_pins_the_manifests_to_the_checkout_not_the_path_the_plan_file_names():
    # A plan file names its manifests (meta.manifests); an artifact is not reviewed code, so a
    # plan made from other manifests on the runner must not be applied with those: every apply
    # in the pipelines passes -f with the checked-out manifests, which the plan must match.
    applies = [(where, a) for where, a in all_invocations() if a[0] == "apply"]
    assert {where for where, _ in applies} == {"fleet-apply.yml", "gitlab:apply"}
    for where, args in applies:
        ctx = parse_with_cli(args)
        assert ctx.params["manifests"] == Path("fleet"), where


def test_github_drift_runs_on_a_schedule_fails_and_files_an_issue():
    workflow = load(WORKFLOWS / "fleet-drift.yml")
    on = triggers(workflow)
    assert on["schedule"][0]["cron"]
    assert workflow["permissions"]["issues"] == "write"
    [job] = workflow["jobs"].values()
    by_name = {s.get("name"): s for s in job["steps"]}
    assert by_name["Open or update the drift issue"]["if"] == "steps.drift.outputs.exitcode == '2'"
    assert "gh issue create" in by_name["Open or update the drift issue"]["run"]
    assert "gh issue edit" in by_name["Open or update the drift issue"]["run"]
    fail = by_name["Fail on drift"]
    assert fail["if"] == "steps.drift.outputs.exitcode == '2'" and "exit 2" in fail["run"]
    # Drift is read-only: the personal key is not even handed to the job.
    assert "NEON_PERSONAL_KEY" not in job["env"]


def test_keys_and_ledger_come_from_the_secret_store_and_match_the_example_fleet():
    fleet = load_fleet(REPO / "fleet.example").fleet
    org_envs = {org.api_key_env for org in fleet.orgs.values()}
    for path in sorted(WORKFLOWS.glob("*.yml")):
        for job in load(path)["jobs"].values():
            env = job["env"]
            assert org_envs <= set(env), path
            for name in [*org_envs, LEDGER_ENV, fleet.personal_api_key_env]:
                if name in env:
                    assert str(env[name]).startswith("${{ secrets."), (path, name)
    gitlab_text = GITLAB.read_text(encoding="utf-8")
    for name in [*org_envs, LEDGER_ENV, str(fleet.personal_api_key_env)]:
        assert name in gitlab_text  # documented as CI/CD variables, never given a value
        assert not re.search(rf"^\s*{name}:", gitlab_text, re.MULTILINE)
    assert "postgresql://" in gitlab_text


def test_gitlab_pipeline_plans_merge_requests_applies_the_default_branch_and_drifts_on_schedule():
    pipeline = load(GITLAB)
    rules = {
        name: [r["if"] for r in pipeline[name]["rules"]] for name in ("plan", "apply", "drift")
    }
    assert any("merge_request_event" in r for r in rules["plan"])
    assert all("CI_DEFAULT_BRANCH" in r for r in rules["apply"])
    assert rules["drift"] == ['$CI_PIPELINE_SOURCE == "schedule"']
    assert pipeline["apply"]["needs"] == ["plan"]
    assert "plan.json" in pipeline["plan"]["artifacts"]["paths"]
    drift_script = "\n".join(pipeline["drift"]["script"])
    assert "exit 2" in drift_script and "labels=fleet-drift" in drift_script


_COMPARISON = re.compile(r'^\$(\w+)\s*(==|!=)\s*(?:"([^"]*)"|\$(\w+))$')


def _gitlab_rule_matches(condition: str, variables: Mapping[str, str]) -> bool:
    """Evaluate a GitLab ``rules: if:`` made of ``$A == "x"`` / ``$A != $B`` joined by ``&&``;
    any other form fails the test rather than being guessed at."""
    results = []
    for part in condition.split("&&"):
        match = _COMPARISON.match(part.strip())
        assert match is not None, f"rule form this test cannot evaluate: {condition!r}"
        name, operator, literal, other = match.groups()
        right = literal if literal is not None else variables.get(other, "")
        results.append((variables.get(name, "") == right) == (operator == "=="))
    return all(results)


def _gitlab_jobs_run(pipeline: Mapping[str, Any], variables: Mapping[str, str]) -> set[str]:
    """The jobs (those with ``rules``) a pipeline with these predefined variables would run."""
    return {
        name
        for name, job in pipeline.items()
        if name != "workflow"  # the pipeline's own rules, not a job
        and isinstance(job, dict)
        and "rules" in job
        and any(_gitlab_rule_matches(rule["if"], variables) for rule in job["rules"])
    }


def test_gitlab_pipeline_run_by_hand_on_the_default_branch_plans_and_applies_again():
    # docs/ci.md: after an apply refused its plan, a pipeline run by hand on the default branch
    # (source "web") plans main again and applies that plan.
    pipeline = load(GITLAB)
    on_main = {"CI_COMMIT_BRANCH": "main", "CI_DEFAULT_BRANCH": "main"}
    by_hand = {**on_main, "CI_PIPELINE_SOURCE": "web"}
    assert any(_gitlab_rule_matches(r["if"], by_hand) for r in pipeline["workflow"]["rules"])
    assert _gitlab_jobs_run(pipeline, by_hand) == {
        "validate",
        "plan",
        "apply",
    }
    assert _gitlab_jobs_run(pipeline, {**on_main, "CI_PIPELINE_SOURCE": "push"}) == {
        "validate",
        "plan",
        "apply",
    }
    merge_request = {"CI_PIPELINE_SOURCE": "merge_request_event", "CI_DEFAULT_BRANCH": "main"}
    assert _gitlab_jobs_run(pipeline, merge_request) == {"validate", "plan"}
    # A hand-run pipeline on another branch never applies.
    other = {"CI_COMMIT_BRANCH": "feature", "CI_DEFAULT_BRANCH": "main"}
    assert "apply" not in _gitlab_jobs_run(pipeline, {**other, "CI_PIPELINE_SOURCE": "web"})
    assert _gitlab_jobs_run(pipeline, {**on_main, "CI_PIPELINE_SOURCE": "schedule"}) == {"drift"}
