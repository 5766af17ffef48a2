"""Tracking servers that require credentials: basic auth in the URI's userinfo
(``http://user:password@host``), in ``MLFLOW_TRACKING_USERNAME`` / ``MLFLOW_TRACKING_PASSWORD``,
or a bearer ``MLFLOW_TRACKING_TOKEN``, as MLflow's own client sends them.

The health probe is checked against a local HTTP server that records the headers it receives;
the stages against a real ``mlflow server --app-name basic-auth`` (needs Flask-WTF, pinned in the
dev extra) on 127.0.0.1.
"""

from __future__ import annotations

import base64
import http.server
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from reliability_support import BIN_DIR, Repo

from papercls.tracking import probe
from papercls.tracking.uri import use_credentials

ADMIN, PASSWORD = "admin", "Adm1n-SECRET-pw-4b7e"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------- the probe


class _Recorder(http.server.BaseHTTPRequestHandler):
    seen: list[dict[str, str]] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        type(self).seen.append({"path": self.path, **{k: v for k, v in self.headers.items()}})
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"OK")

    def log_message(self, *args) -> None:
        pass


@pytest.fixture()
def recorder() -> Iterator[tuple[str, list[dict[str, str]]]]:
    server = http.server.HTTPServer(("127.0.0.1", 0), _Recorder)
    _Recorder.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_port}", _Recorder.seen
    finally:
        server.shutdown()
        server.server_close()


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize(
    "userinfo,env,expected",
    [
        (f"{ADMIN}:{PASSWORD}@", {}, _basic(ADMIN, PASSWORD)),
        ("al%40ice:p%3Ass@", {}, _basic("al@ice", "p:ss")),  # percent-decoded, as requests does
        (
            "",
            {"MLFLOW_TRACKING_USERNAME": "bo", "MLFLOW_TRACKING_PASSWORD": "p"},
            _basic("bo", "p"),
        ),
        ("", {"MLFLOW_TRACKING_TOKEN": "tok-123"}, "Bearer tok-123"),
        ("u:p@", {"MLFLOW_TRACKING_TOKEN": "tok-123"}, _basic("u", "p")),  # userinfo wins
        ("", {}, None),
    ],
    ids=["userinfo", "encoded", "env-basic", "env-token", "userinfo-over-token", "none"],
)
def test_probe_sends_credentials_to_the_bare_host(
    recorder, monkeypatch, userinfo: str, env: dict[str, str], expected: str | None
) -> None:
    hostport, seen = recorder
    for k in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN"):
        monkeypatch.delenv(k, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert probe(f"http://{userinfo}{hostport}/") is None
    assert len(seen) == 1 and seen[0]["path"] == "/health"
    assert seen[0]["Host"] == hostport
    assert seen[0].get("Authorization") == expected


@pytest.mark.parametrize(
    "uri,used,env",
    [
        (
            "http://al%40ice:p%3Ass@h:5000/",
            "http://h:5000/",
            {"MLFLOW_TRACKING_USERNAME": "al@ice", "MLFLOW_TRACKING_PASSWORD": "p:ss"},
        ),
        ("http://h:5000/", "http://h:5000/", {}),
        # a user without password (a token as the user) has no MLflow variable: kept in the URI
        # for requests to send, and MLflow does not print run URLs that would show it
        ("https://tok@h/", "https://tok@h/", {"MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true"}),
    ],
)
def test_use_credentials_moves_userinfo_to_mlflow_variables(monkeypatch, uri, used, env):
    names = ("USERNAME", "PASSWORD", "TOKEN")
    keys = [f"MLFLOW_TRACKING_{k}" for k in names] + ["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"]
    for k in keys:
        monkeypatch.delenv(k, raising=False)
    assert use_credentials(uri) == used
    assert {k: os.environ[k] for k in keys if k in os.environ} == env


# --------------------------------------------------------------------------- a real server


def _wait_healthy(proc: subprocess.Popen, url: str, log: Path) -> None:
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(url + "/health", timeout=2):
                return
        except OSError:
            if proc.poll() is not None:
                pytest.fail(f"mlflow server exited {proc.returncode}:\n{log.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"mlflow server not healthy after 90 s:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory) -> Iterator[str]:
    """``http://127.0.0.1:<port>`` of an MLflow server with basic auth (admin user ADMIN,
    password PASSWORD); stopped (its own process group) at module end."""
    d = tmp_path_factory.mktemp("auth_server")
    ini = d / "basic_auth.ini"
    ini.write_text(
        "[mlflow]\n"
        "default_permission = READ\n"
        f"database_uri = sqlite:///{d / 'auth.db'}\n"
        f"admin_username = {ADMIN}\n"
        f"admin_password = {PASSWORD}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
    )
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env.update(
        PATH=BIN_DIR + os.pathsep + env.get("PATH", ""),
        MLFLOW_AUTH_CONFIG_PATH=str(ini),
        MLFLOW_FLASK_SERVER_SECRET_KEY="csrf-key-for-tests",
        MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false",
    )
    cmd = [sys.executable, "-m", "mlflow", "server", "--app-name", "basic-auth"]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    cmd += ["--backend-store-uri", f"sqlite:///{d / 'mlflow.db'}"]
    cmd += ["--default-artifact-root", str(d / "artifacts")]
    log = d / "server.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen(
            cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(proc, url, log)
        yield url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)  # the server's own group (start_new_session)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)


def _client(url: str, monkeypatch):
    from mlflow import MlflowClient

    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", ADMIN)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", PASSWORD)
    return MlflowClient(tracking_uri=url)


def _evaluate_runs(client) -> list:
    exp = client.get_experiment_by_name("paper-classification")
    if exp is None:
        return []
    runs = client.search_runs([exp.experiment_id], max_results=100)
    return [r for r in runs if r.data.tags.get("dvc.stage") == "evaluate"]


def test_server_refuses_anonymous_requests(auth_server: str) -> None:
    url = auth_server + "/api/2.0/mlflow/experiments/get-by-name?experiment_name=Default"
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(url, timeout=10)
    assert info.value.code == 401


def test_probe_of_the_real_server_with_credentials(auth_server: str) -> None:
    host = auth_server.removeprefix("http://")
    assert probe(f"http://{ADMIN}:{PASSWORD}@{host}/") is None


@pytest.mark.slow
@pytest.mark.parametrize("where", ["userinfo", "env"])
def test_stage_logs_its_run_to_an_authenticated_server(
    built_repo: Repo, auth_server: str, monkeypatch, where: str
) -> None:
    client = _client(auth_server, monkeypatch)
    before = {r.info.run_id for r in _evaluate_runs(client)}
    host = auth_server.removeprefix("http://")
    if where == "userinfo":
        env = {"MLFLOW_TRACKING_URI": f"http://{ADMIN}:{PASSWORD}@{host}/"}
    else:
        env = {
            "MLFLOW_TRACKING_URI": auth_server,
            "MLFLOW_TRACKING_USERNAME": ADMIN,
            "MLFLOW_TRACKING_PASSWORD": PASSWORD,
        }
    proc = built_repo.sh("python", "stages/evaluate.py", check=False, timeout=180, **env)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert PASSWORD not in out
    assert f"View run evaluate at: {auth_server}/#/experiments/" in proc.stdout, out
    new = [r for r in _evaluate_runs(client) if r.info.run_id not in before]
    assert [r.info.status for r in new] == ["FINISHED"]
    assert {"baseline.f1", "topline.f1", "tfidf.f1"} <= set(new[0].data.metrics)
    assert PASSWORD not in str([new[0].data.params, new[0].data.tags])


@pytest.mark.slow
def test_wrong_password_is_one_clear_error(built_repo: Repo, auth_server: str, monkeypatch):
    client = _client(auth_server, monkeypatch)
    before = len(_evaluate_runs(client))
    wrong = "Wrong-SECRET-pw-0c1d"
    uri = f"http://{ADMIN}:{wrong}@{auth_server.removeprefix('http://')}"
    proc = built_repo.sh(
        "python", "stages/evaluate.py", check=False, timeout=180, MLFLOW_TRACKING_URI=uri
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out
    assert f"error: MLflow tracking server {auth_server} refused the credentials (HTTP 401)" in (
        proc.stderr
    ), out
    assert "Traceback" not in out and wrong not in out
    assert len(_evaluate_runs(client)) == before
