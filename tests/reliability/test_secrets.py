"""No password or token in any message, log line, MLflow param or tag, whatever the tracking URI
looks like: URIs that do not parse, credentials in the userinfo, tokens in the query string.

The stage-level cases run real stage scripts in the shared tiny repository (conftest.py) and
search everything they print, and everything they logged to MLflow, for the secret strings.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from reliability_support import Repo, mlflow_runs

from papercls.tracking import redact_uri, stage_main, stage_run
from papercls.tracking.uri import redact_text

PASSWORD = "pw-SECRET-51c0"
TOKEN = "tok-SECRET-8e2d"
SIGNATURE = "sig-SECRET-a7f3"
SECRETS = (PASSWORD, TOKEN, SIGNATURE)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _no_secret(text: str) -> None:
    leaked = [s for s in SECRETS if s in text]
    assert not leaked, f"{leaked} in:\n{text}"


@pytest.mark.parametrize(
    "uri,shown",
    [
        (f"http://user:{PASSWORD}@[::1", "http://[::1"),  # does not parse (unclosed IPv6)
        (f"http://user:{PASSWORD}@host:notaport/", "http://host:notaport/"),
        (f"https://user:{PASSWORD}@[::1]:5000/x", "https://[::1]:5000/x"),
        (f"http://us%40er:{PASSWORD}@h@x.org/", "http://x.org/"),  # an unencoded "@"
        (f"http://h/?token={TOKEN}&run=3", "http://h/?token=***&run=3"),
        (f"http://h/p?access_token={TOKEN}", "http://h/p?access_token=***"),
        (f"http://h/p?api_key={TOKEN};sig={SIGNATURE}", "http://h/p?api_key=***;sig=***"),
        (f"http://h/?X-Amz-Signature={SIGNATURE}&a=1", "http://h/?X-Amz-Signature=***&a=1"),
        (f"http://h/?password={PASSWORD}#key={TOKEN}", "http://h/?password=***#key=***"),
        (f"http://u:{PASSWORD}@h:5000/?token={TOKEN}", "http://h:5000/?token=***"),
        ("http://127.0.0.1:5000/", "http://127.0.0.1:5000/"),  # nothing to hide
    ],
)
def test_redact_uri(uri: str, shown: str) -> None:
    assert redact_uri(uri) == shown
    _no_secret(redact_uri(uri))


def test_redact_text_finds_uris_and_known_secrets_in_free_text(monkeypatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", TOKEN)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://u:{PASSWORD}@[::1")
    text = (
        f"API request to http://u:{PASSWORD}@h/api failed; header Bearer {TOKEN}; "
        f"the password {PASSWORD} again; see https://h/x?sig={SIGNATURE}"
    )
    redacted = redact_text(text)
    _no_secret(redacted)
    assert "API request to http://h/api failed" in redacted


def test_stage_main_redacts_an_unexpected_traceback(capsys, monkeypatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", PASSWORD)

    def main() -> int:
        raise RuntimeError(f"API request to http://u:{PASSWORD}@h/x?token={TOKEN} failed")

    assert stage_main(main) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "RuntimeError: API request to http://h/x?token=***" in err
    _no_secret(err)


def test_params_and_tags_are_redacted(tmp_path: Path, monkeypatch) -> None:
    """A param value or tag holding a secret-bearing URI reaches MLflow without the secret."""
    from mlflow import MlflowClient

    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DVC_ROOT", raising=False)
    db = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", db)
    section = {
        "remote": f"https://u:{PASSWORD}@store.example/data?sig={SIGNATURE}",
        "mirror": f"http://user:{PASSWORD}@[::1",
        "api_token": TOKEN,
    }
    with stage_run("demo", {"demo": section, "tracking": {"experiment": "secrets"}}) as run:
        run.set_tags({"source": f"s3://bucket/x?X-Amz-Signature={SIGNATURE}"})
        run_id = run.run_id
    data = MlflowClient(tracking_uri=db).get_run(run_id).data
    _no_secret(json.dumps([data.params, data.tags]))
    assert data.params["demo.remote"] == "https://store.example/data?sig=***"
    assert "demo.api_token" not in data.params


# --------------------------------------------------------------------------- real stage scripts


@pytest.mark.slow
@pytest.mark.parametrize(
    "kind",
    ["unparseable", "bad-port", "token-query", "userinfo-and-token"],
)
def test_unreachable_server_error_carries_no_secret(built_repo: Repo, kind: str) -> None:
    port = _closed_port()
    uri = {
        "unparseable": f"http://user:{PASSWORD}@[::1",
        "bad-port": f"http://user:{PASSWORD}@127.0.0.1:{port}x/",
        "token-query": f"http://127.0.0.1:{port}/?token={TOKEN}",
        "userinfo-and-token": f"http://u:{PASSWORD}@127.0.0.1:{port}/?access_token={TOKEN}",
    }[kind]
    runs_before = len(mlflow_runs(built_repo.root))
    proc = built_repo.sh(
        "python", "stages/evaluate.py", check=False, timeout=120, MLFLOW_TRACKING_URI=uri
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out
    assert "error: MLflow tracking server http://" in proc.stderr and "Traceback" not in out
    _no_secret(out)
    assert len(mlflow_runs(built_repo.root)) == runs_before


@pytest.mark.slow
def test_fallback_warning_and_local_run_carry_no_secret(built_repo: Repo) -> None:
    root = built_repo.root
    params = built_repo.params()
    params["tracking"]["fail_on_unavailable"] = False
    params["evaluate"]["note"] = f"http://u:{PASSWORD}@mirror.example/?sig={SIGNATURE}"
    built_repo.write_params(params)
    uri = f"http://u:{PASSWORD}@127.0.0.1:{_closed_port()}/?token={TOKEN}"
    before = {r.info.run_id for r in mlflow_runs(root)}
    try:
        proc = built_repo.sh(
            "python",
            "stages/evaluate.py",
            timeout=120,
            MLFLOW_TRACKING_URI=uri,
            MLFLOW_TRACKING_PASSWORD=PASSWORD,
        )
    finally:
        built_repo.sh("git", "checkout", "--", "params.yaml")
    out = proc.stdout + proc.stderr
    assert "is unreachable" in proc.stderr and "logging to sqlite:///" in proc.stderr, out
    _no_secret(out)
    new = [r for r in mlflow_runs(root) if r.info.run_id not in before]
    assert [r.info.status for r in new] == ["FINISHED"]
    logged = json.dumps([new[0].data.params, new[0].data.tags])
    _no_secret(logged)
    assert new[0].data.params["evaluate.note"] == "http://mirror.example/?sig=***"
