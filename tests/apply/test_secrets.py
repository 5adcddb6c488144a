"""Secret sinks: the token lands exactly where configured, with tight permissions."""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from reconciler.apply.secrets import (
    BASE_ENVIRONMENT,
    ExecSink,
    FileSink,
    MintedKey,
    sink_environment,
)
from reconciler.core.model import SecretSink as SinkConfig
from reconciler.errors import ManifestError, SecretSinkError
from reconciler.manifests import load_fleet
from tests.support.cli import run_in_process

KEY = MintedKey("cust-1", "proj-1", "org-paid-1", 42, "runtime", token="napi_supersecret")


def test_repr_never_shows_the_token():
    assert "napi_supersecret" not in repr(KEY)


def test_file_sink_writes_0600_json_in_0700_dirs(tmp_path):
    sink = FileSink(tmp_path / "secrets")
    sink.deliver(KEY)
    target = tmp_path / "secrets" / "cust-1" / "runtime.json"
    assert json.loads(target.read_text()) == {
        "tenant": "cust-1",
        "project_id": "proj-1",
        "org_id": "org-paid-1",
        "key_id": 42,
        "name": "runtime",
        "token": "napi_supersecret",
    }
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert stat.S_IMODE(target.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "secrets").stat().st_mode) == 0o700
    assert [p.name for p in target.parent.iterdir()] == ["runtime.json"]  # no temp left


def test_file_sink_names_cannot_escape_the_directory(tmp_path):
    sink = FileSink(tmp_path / "s")
    assert sink.path_for("../../etc", "../passwd").is_relative_to(tmp_path / "s")


def test_file_sink_failure_is_a_sink_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(SecretSinkError, match="cannot write key 'runtime' of tenant cust-1"):
        FileSink(blocker / "inside").deliver(KEY)


def test_exec_sink_pipes_json_to_stdin(tmp_path):
    out = tmp_path / "got.json"
    script = f"import sys; open({str(out)!r}, 'w').write(sys.stdin.read())"
    ExecSink(f"{sys.executable} -c {json.dumps(script)}").deliver(KEY)
    assert json.loads(out.read_text())["token"] == "napi_supersecret"


def test_exec_sink_failure_names_the_command_and_hides_the_token():
    script = "import sys; d=sys.stdin.read(); sys.stderr.write('bad '+d); sys.exit(3)"
    with pytest.raises(SecretSinkError) as caught:
        ExecSink(f"{sys.executable} -c {json.dumps(script)}").deliver(KEY)
    assert "exited 3" in str(caught.value)
    assert "napi_supersecret" not in str(caught.value)


def test_exec_sink_missing_command():
    with pytest.raises(SecretSinkError, match="failed for key 'runtime'"):
        ExecSink("/nonexistent/sink-command").deliver(KEY)


def _refusal(sink: FileSink, link: Path) -> str:
    with pytest.raises(SecretSinkError) as caught:
        sink.deliver(KEY)
    message = str(caught.value)
    assert f"{link} is a symbolic link" in message and "follows no symbolic links" in message
    assert "napi_supersecret" not in message
    return message


def _untouched(directory: Path, mode: int) -> None:
    assert list(directory.iterdir()) == []
    assert stat.S_IMODE(directory.stat().st_mode) == mode


def test_file_sink_refuses_a_symlink_planted_at_the_sink_root(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o755)
    elsewhere.chmod(0o755)
    (tmp_path / "secrets").symlink_to(elsewhere)
    _refusal(FileSink(tmp_path / "secrets"), tmp_path / "secrets")
    _untouched(elsewhere, 0o755)  # no token written there, and no chmod through the link


def test_file_sink_refuses_a_symlink_planted_at_a_tenant_directory(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    elsewhere.chmod(0o755)
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "cust-1").symlink_to(elsewhere)
    _refusal(FileSink(tmp_path / "secrets"), tmp_path / "secrets" / "cust-1")
    _untouched(elsewhere, 0o755)


def test_file_sink_refuses_a_symlink_planted_at_the_key_file(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (tmp_path / "secrets" / "cust-1").mkdir(parents=True)
    link = tmp_path / "secrets" / "cust-1" / "runtime.json"
    link.symlink_to(victim)
    _refusal(FileSink(tmp_path / "secrets"), link)
    assert victim.read_text() == "keep me"
    assert link.is_symlink()
    assert [p.name for p in link.parent.iterdir()] == ["runtime.json"]  # no temp file left


def test_file_sink_refuses_a_symlink_between_the_base_and_the_sink(tmp_path):
    """With the working directory as base, `.fleet` of `.fleet/secrets` is checked too."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    (work / ".fleet").symlink_to(elsewhere)
    _refusal(FileSink(work / ".fleet" / "secrets", base=work), work / ".fleet")
    assert list(elsewhere.iterdir()) == []


def test_file_sink_trusts_links_above_its_base(tmp_path):
    """A link in the path the user wrote (above the base) is theirs: it is followed."""
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "alias").symlink_to(real)
    FileSink(tmp_path / "alias" / "secrets").deliver(KEY)
    written = real / "secrets" / "cust-1" / "runtime.json"
    assert json.loads(written.read_text())["token"] == "napi_supersecret"
    assert stat.S_IMODE(written.stat().st_mode) == 0o600


def test_file_sink_replaces_a_key_file_atomically(tmp_path):
    sink = FileSink(tmp_path / "secrets")
    sink.deliver(KEY)
    sink.deliver(replace(KEY, key_id=43, token="napi_rotated"))
    target = tmp_path / "secrets" / "cust-1" / "runtime.json"
    assert json.loads(target.read_text())["key_id"] == 43
    assert [p.name for p in target.parent.iterdir()] == ["runtime.json"]


#: A sink command that stores the environment it was given as JSON in the file named by argv[1].
ENV_DUMP = "import json, os, sys; json.dump(dict(os.environ), open(sys.argv[1], 'w'))"


def _env_dump_command(out: Path) -> str:
    return f"{sys.executable} -c {json.dumps(ENV_DUMP)} {out}"


def test_exec_sink_command_does_not_inherit_api_keys(tmp_path, monkeypatch):
    for name in ("NEON_FREE_ORG_KEY", "NEON_PERSONAL_KEY", "NEON_API_KEY", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, f"secret-of-{name}")
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    out = tmp_path / "env.json"
    ExecSink(_env_dump_command(out)).deliver(KEY)
    seen = json.loads(out.read_text())
    assert not [name for name in seen if name.startswith(("NEON_", "AWS_"))]
    assert not [v for v in seen.values() if v.startswith("secret-of-")]
    assert seen["PATH"] == os.environ["PATH"] and seen["LC_ALL"] == "C.UTF-8"


def test_exec_sink_passes_only_the_base_environment_and_the_allow_list(tmp_path):
    environ = {
        "PATH": os.environ["PATH"], "HOME": "/home/ci", "LANG": "C.UTF-8", "TMPDIR": "/tmp",
        "NEON_PAID_ORG_KEY": "org-key", "NEON_PERSONAL_KEY": "personal-key",
        "VAULT_ADDR": "https://vault.internal", "VAULT_TOKEN": "vault-token", "OTHER": "x",
    }  # fmt: skip
    out = tmp_path / "env.json"
    sink = ExecSink(
        _env_dump_command(out), env=["VAULT_ADDR", "VAULT_TOKEN", "UNSET"], environ=environ
    )
    sink.deliver(KEY)
    seen = json.loads(out.read_text())
    assert {
        k: seen[k] for k in ("PATH", "HOME", "LANG", "TMPDIR", "VAULT_ADDR", "VAULT_TOKEN")
    } == {k: environ[k] for k in ("PATH", "HOME", "LANG", "TMPDIR", "VAULT_ADDR", "VAULT_TOKEN")}
    # Python may add LC_CTYPE itself (PEP 538); nothing else beyond what was passed.
    assert set(seen) - {"LC_CTYPE"} <= set(BASE_ENVIRONMENT) | {"VAULT_ADDR", "VAULT_TOKEN"}


def test_sink_environment_keeps_locale_variables():
    environ = {"LC_TIME": "de_DE", "LC_ALL": "C", "NEON_X": "k", "LCX": "no", "TZ": "UTC"}
    assert sink_environment(environ) == {"LC_TIME": "de_DE", "LC_ALL": "C", "TZ": "UTC"}


EXAMPLE = Path(__file__).resolve().parents[2] / "fleet.example"


def _fleet_with_secrets(tmp_path: Path, secrets: str) -> Path:
    fleet = tmp_path / "fleet"
    shutil.copytree(EXAMPLE, fleet, ignore=shutil.ignore_patterns("ci"))
    text = (fleet / "fleet.yaml").read_text()
    (fleet / "fleet.yaml").write_text(text.replace("  secrets:\n    file: .fleet/secrets", secrets))
    return fleet


def test_fleet_manifest_exec_sink_env_allow_list_loads(tmp_path):
    fleet = _fleet_with_secrets(
        tmp_path, '  secrets:\n    exec: "vault-put-key"\n    env: [VAULT_ADDR, VAULT_TOKEN]'
    )
    sink = load_fleet(fleet).fleet.secrets
    assert sink == SinkConfig("exec", "vault-put-key", ("VAULT_ADDR", "VAULT_TOKEN"))


@pytest.mark.parametrize(
    ("secrets", "message"),
    [
        ("  secrets: {file: s, env: [A]}", "spec.secrets.env: env lists the variables an exec"),
        ("  secrets: {env: [A]}", "spec.secrets: must set exactly one of file or exec"),
        ('  secrets: {exec: "x", file: s}', "spec.secrets: must set exactly one of file or exec"),
        ('  secrets: {exec: "x", env: ["A=1"]}', "spec.secrets.env[0]: must be an environment"),
    ],
)
def test_fleet_manifest_exec_sink_env_mistakes_are_located(tmp_path, secrets, message):
    with pytest.raises(ManifestError) as caught:
        load_fleet(_fleet_with_secrets(tmp_path, secrets))
    assert message in str(caught.value)
    assert "fleet.yaml:" in str(caught.value)


@pytest.mark.integration
def test_apply_runs_the_exec_sink_without_the_fleets_api_keys(tmp_path, monkeypatch):
    """End to end through the manifest: org and personal keys stay out, allow-listed vars pass."""
    out = tmp_path / "env.json"
    command = _env_dump_command(out).replace("'", "''")
    _fleet_with_secrets(tmp_path, f"  secrets:\n    exec: '{command}'\n    env: [VAULT_ADDR]")
    for name in ("NEON_FREE_ORG_KEY", "NEON_PAID_ORG_KEY", "NEON_PERSONAL_KEY"):
        monkeypatch.setenv(name, f"secret-of-{name}")
    monkeypatch.setenv("VAULT_ADDR", "https://vault.internal")
    monkeypatch.chdir(tmp_path)
    result = run_in_process(
        ["--sandbox", "apply", "fleet", "--auto-approve", "--tenant", "cust-00042"]
    )
    assert result.code == 0, result.text
    seen = json.loads(out.read_text())
    assert seen["VAULT_ADDR"] == "https://vault.internal"
    assert not [name for name in seen if name.startswith("NEON_")]


def test_file_sink_creates_missing_parents_of_an_absolute_sink(tmp_path):
    sink = FileSink(tmp_path / "srv" / "fleet" / "secrets")
    sink.deliver(KEY)
    target = tmp_path / "srv" / "fleet" / "secrets" / "cust-1" / "runtime.json"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
