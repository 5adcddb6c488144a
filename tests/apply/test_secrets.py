"""Secret sinks: the token lands exactly where configured, with tight permissions."""

from __future__ import annotations

import json
import stat
import sys

import pytest

from reconciler.apply.secrets import ExecSink, FileSink, MintedKey
from reconciler.errors import SecretSinkError

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
