"""The e2e secret scan finds what it must, so a clean scan means something."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import Loopback
from tests.e2e.secret_scan import find_leaks, sink_mode_problems, sink_tokens, workdir_files
from tests.support.cli import run_subprocess

TOKEN = "Zq8" * 21 + "x"


def test_finds_a_token_a_password_and_a_connection_string():
    leaks = find_leaks(
        {
            "stdout": f"created key {TOKEN}".encode(),
            "plan.json": b'{"password": "npg_AbCdEf123456"}',
            "ledger.db": b"postgresql://neondb_owner:s3cret@ep-x.neon.tech/neondb",
            "clean.log": b"GET /projects 200 OK postgresql://postgres@127.0.0.1:5432/test",
        },
        {TOKEN},
    )
    assert leaks == [
        "stdout: contains a key token or password",
        "plan.json: contains a role password",
        "ledger.db: contains a connection string with a password",
    ]


def test_the_sink_is_the_only_place_skipped(tmp_path: Path):
    (tmp_path / ".fleet" / "secrets" / "t").mkdir(parents=True)
    (tmp_path / ".fleet" / "secrets" / "t" / "k.json").write_text("{}")
    (tmp_path / ".fleet" / "ledger.db-wal").write_text("")
    (tmp_path / "plan.json").write_text("{}")
    found = sorted(str(p.relative_to(tmp_path)) for p in workdir_files(tmp_path))
    assert found == [".fleet/ledger.db-wal", "plan.json"]


def test_sink_modes_and_links_are_reported(tmp_path: Path):
    sink = tmp_path / ".fleet" / "secrets"
    (sink / "t").mkdir(parents=True, mode=0o700)
    sink.chmod(0o700)
    (sink / "t").chmod(0o755)
    (sink / "t" / "k.json").write_text("{}")
    (sink / "t" / "k.json").chmod(0o644)
    (sink / "u").symlink_to(tmp_path)
    assert sink_mode_problems(tmp_path) == [
        ".fleet/secrets/t: sink directory has mode 0755, not 0700",
        ".fleet/secrets/t/k.json: sink file has mode 0644, not 0600",
        ".fleet/secrets/u: a symbolic link in the secret sink",
    ]
    (sink / "u").unlink()
    (sink / "t").chmod(0o700)
    (sink / "t" / "k.json").chmod(0o600)
    assert sink_mode_problems(tmp_path) == []


#: An exec sink for the e2e run: the key document goes where the scan reads tokens from, and the
#: environment the command was given is left in the working directory, where the scan looks for
#: every key the test put in neon-fleet's environment.
EXEC_SINK_SCRIPT = """\\
import json, os, sys
document = json.load(sys.stdin)
folder = ".fleet"
for part in ("secrets", document["tenant"]):
    folder = os.path.join(folder, part)
    os.makedirs(folder, mode=0o700, exist_ok=True)
fd = os.open(os.path.join(folder, document["name"] + ".json"), os.O_WRONLY | os.O_CREAT, 0o600)
with os.fdopen(fd, "w") as handle:
    json.dump(document, handle)
with open("exec-sink-env.json", "w") as handle:
    json.dump(dict(os.environ), handle)
"""


@pytest.mark.e2e
def test_exec_sink_environment_passes_the_secret_scan(loopback: Loopback, workdir: Path, env):
    (workdir / "sink.py").write_text(EXEC_SINK_SCRIPT)
    fleet_yaml = workdir / "fleet" / "fleet.yaml"
    fleet_yaml.write_text(
        fleet_yaml.read_text().replace(
            "file: .fleet/secrets", f"exec: {json.dumps(f'{sys.executable} sink.py')}"
        )
    )
    args = ["-vv", "apply", "fleet", "--auto-approve", "--tenant", "cust-00042"]
    result = run_subprocess(args, cwd=workdir, env=env)
    assert result.code == 0, result.text
    seen = json.loads((workdir / "exec-sink-env.json").read_text())
    assert sorted(name for name in seen if name.startswith("NEON_")) == []
    assert sink_tokens(workdir)  # the token arrived; the autouse scan checks the rest


def test_connection_secrets_and_auth_keys_in_the_sink_are_secrets_too(tmp_path: Path):
    tenant = tmp_path / ".fleet" / "secrets" / "t"
    tenant.mkdir(parents=True)
    uri = "postgresql://app:npg_Q1w2E3r4T5y6@ep-a-1.aws.neon.tech/app?sslmode=require"
    (tenant / "db.json").write_text(json.dumps({"uri": uri, "password": "npg_Q1w2E3r4T5y6"}))
    (tenant / "neon-auth.json").write_text(json.dumps({"secret_server_key": "ssk_" + "k" * 30}))
    secrets = sink_tokens(tmp_path)
    assert secrets == {uri, "npg_Q1w2E3r4T5y6", "ssk_" + "k" * 30}
    leaks = find_leaks({"history": ("key ssk_" + "k" * 30).encode()}, secrets)
    assert leaks == ["history: contains a key token or password"]
