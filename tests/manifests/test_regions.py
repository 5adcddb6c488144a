"""Regions are checked against Neon's list at validate time (issue 12): a typo is a located
problem with a hint, and the one table agrees with the OpenAPI document and recorded answers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from reconciler.core.regions import NEON_REGIONS
from reconciler.emulator.seed_file import REGIONS as EMULATOR_REGIONS
from reconciler.errors import ManifestError
from reconciler.manifests import load_fleet
from tests.manifests.conftest import FLEET, tenant_yaml
from tests.support.cli import run_in_process
from tests.support.openapi import load_spec, recorded_dir

_REGION_ID = re.compile(r"\b(?:aws|azure|gcp)-[a-z]+(?:-[a-z]+)*(?:-?\d+)?\b")


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _enums_of_region_properties(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "region_id" and isinstance(item, dict):
                yield from (str(v) for v in item.get("enum", ()))
            yield from _enums_of_region_properties(item)
    elif isinstance(value, list):
        for item in value:
            yield from _enums_of_region_properties(item)


def test_region_table_holds_every_region_the_openapi_document_names():
    spec = load_spec()
    named = {m for text in _strings(spec) for m in _REGION_ID.findall(text)}
    enumerated = set(_enums_of_region_properties(spec))
    assert {"aws-us-east-1", "aws-us-east-2"} <= named  # the document's examples
    assert named | enumerated <= NEON_REGIONS.keys(), sorted(named - NEON_REGIONS.keys())


def test_region_table_holds_every_region_of_the_recorded_answers():
    directory = recorded_dir()
    if directory is None:
        pytest.skip("NEON_RECORDED_DIR is not set")
    found = {
        region
        for path in directory.glob("*.yaml")
        for region in re.findall(r'region_id\\?"\s*:\s*\\?"([a-z0-9-]+)', path.read_text())
    }
    assert found, "the recorded answers name no region"
    assert found <= NEON_REGIONS.keys()


def test_emulator_offers_exactly_the_regions_of_the_table():
    assert set(EMULATOR_REGIONS) == set(NEON_REGIONS)


@pytest.mark.parametrize(
    ("typo", "hint"), [("aws-us-east-9", "aws-us-east-2"), ("us-east-2", "aws-us-east-2")]
)
def test_region_typo_fails_validate_with_location_and_hint(write_fleet, typo, hint):
    root = write_fleet(tenant_yaml(f"  tier: free\n  region: {typo}\n"))
    result = run_in_process(["validate", str(root)])
    assert result.code == 1
    assert result.err.splitlines() == [
        "Error: 1 problem(s) in the manifests:",
        f"{root / 'tenants.yaml'}:6:11: spec.region: unknown Neon region {typo!r}; "
        f"did you mean {hint!r}?",
    ]


def test_fleet_default_region_typo_is_reported_once_at_the_fleet(write_fleet):
    fleet = FLEET.replace("region: aws-us-east-2", "region: aws-eu-centrl-1")
    root = write_fleet(
        tenant_yaml("  tier: free\n"), tenant_yaml("  tier: free\n", "b"), fleet=fleet
    )
    with pytest.raises(ManifestError) as caught:
        load_fleet(root)
    [problem] = caught.value.problems
    assert (problem.path, problem.line, problem.field) == (
        str(root / "fleet.yaml"),
        7,
        "spec.defaults.region",
    )
    assert (
        problem.message == "unknown Neon region 'aws-eu-centrl-1'; did you mean 'aws-eu-central-1'?"
    )


def test_unknown_region_far_from_any_lists_the_regions(write_fleet):
    root = write_fleet(tenant_yaml("  tier: free\n  region: mars-1\n"))
    with pytest.raises(ManifestError) as caught:
        load_fleet(root)
    [problem] = caught.value.problems
    assert problem.message.startswith("unknown Neon region 'mars-1' (expected one of: aws-ap-")
