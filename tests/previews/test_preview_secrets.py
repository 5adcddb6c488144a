"""A preview's connection secret reaches the sink (file or exec) and nowhere else."""

from __future__ import annotations

import json
import stat
import sys

import pytest

from reconciler.apply import preview_secrets
from reconciler.apply.preview_secrets import PreviewSecret
from reconciler.apply.secrets import ExecSink, FileSink
from reconciler.errors import SecretSinkError

PASSWORD = "npg_abcdefghijkl"
URI = f"postgresql://neondb_owner:{PASSWORD}@ep-x-1.us-east-2.aws.neon.tech/neondb?sslmode=require"
SECRET = PreviewSecret(
    tenant="cust-1",
    run_id="run-7",
    project_id="proj-1",
    branch_id="br-1",
    endpoint_id="ep-x-1",
    database="neondb",
    role="neondb_owner",
    expires_at="2026-06-01T12:00:00Z",
    uri=URI,
)


def test_repr_and_fingerprint_never_show_the_secret():
    assert URI not in repr(SECRET) and PASSWORD not in repr(SECRET)
    fingerprint = preview_secrets.fingerprint(URI)
    assert fingerprint.startswith("sha256:") and PASSWORD not in fingerprint
    assert fingerprint == preview_secrets.fingerprint(URI)


def test_file_sink_gets_one_0600_document_named_after_tenant_and_run(tmp_path):
    sink = FileSink(tmp_path / "secrets")
    sink.deliver(SECRET)
    target = tmp_path / "secrets" / "cust-1" / "preview-run-7.json"
    document = json.loads(target.read_text())
    assert document["uri"] == document["DATABASE_URL"] == URI and document["password"] == PASSWORD
    assert document["host"] == "ep-x-1.us-east-2.aws.neon.tech"
    assert (document["database"], document["role"], document["pooled"]) == (
        "neondb",
        "neondb_owner",
        False,
    )
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert preview_secrets.withdraw(sink, "cust-1", "run-7") is True
    assert not target.exists()
    assert preview_secrets.withdraw(sink, "cust-1", "run-7") is False  # a re-run is harmless


def test_a_symlink_in_the_file_sink_is_refused(tmp_path):
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "cust-1").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(SecretSinkError, match="symbolic link") as caught:
        FileSink(tmp_path / "secrets").deliver(SECRET)
    assert PASSWORD not in str(caught.value)
    assert list((tmp_path / "elsewhere").iterdir()) == []


def test_exec_sink_gets_the_document_on_stdin(tmp_path):
    out = tmp_path / "got.json"
    script = f"import sys, pathlib; pathlib.Path({str(out)!r}).write_text(sys.stdin.read())"
    sink = ExecSink(f"{sys.executable} -c {json.dumps(script)}")
    sink.deliver(SECRET)
    assert json.loads(out.read_text())["uri"] == URI
    assert preview_secrets.withdraw(sink, "cust-1", "run-7") is False


def test_a_failing_exec_sink_never_echoes_the_secret(tmp_path):
    script = "import sys; sys.stderr.write(sys.stdin.read()); sys.exit(3)"
    sink = ExecSink(f"{sys.executable} -c {json.dumps(script)}")
    with pytest.raises(SecretSinkError, match="exited 3") as caught:
        sink.deliver(SECRET)
    assert PASSWORD not in str(caught.value) and URI not in str(caught.value)
