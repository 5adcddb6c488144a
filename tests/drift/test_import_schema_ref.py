"""The ``$schema`` modeline ``fleet import`` writes: stable in git, never a machine's path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.app.importing import schema_ref

pytestmark = pytest.mark.unit

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


def test_import_schema_modeline_uses_the_published_id_when_no_schemas_dir_is_above_out(
    tmp_path: Path,
) -> None:
    out = tmp_path / "fleet" / "imported"
    assert not any((p / "schemas").exists() for p in [out, *out.parents])  # the premise
    ref = schema_ref(out)
    assert ref == "https://neon-fleet.dev/schemas/tenant.schema.json"
    assert ref == json.loads((SCHEMAS / "tenant.schema.json").read_text())["$id"]
    assert not Path(ref).is_absolute() and str(tmp_path) not in ref


def test_import_schema_modeline_is_relative_when_a_schemas_dir_is_above_out(
    tmp_path: Path,
) -> None:
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "tenant.schema.json").write_text("{}")
    out = tmp_path / "fleet" / "tenants" / "imported"
    assert schema_ref(out) == "../../../schemas/tenant.schema.json"
    assert (out / schema_ref(out)).resolve() == (tmp_path / "schemas/tenant.schema.json")


@pytest.mark.parametrize("kind", ["fleet", "tier", "tenant", "plan", "drift"])
def test_every_published_schema_names_its_stable_id(kind: str) -> None:
    document = json.loads((SCHEMAS / f"{kind}.schema.json").read_text())
    assert document["$id"] == f"https://neon-fleet.dev/schemas/{kind}.schema.json"
