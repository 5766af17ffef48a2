"""Tracking URIs a stage cannot use give one ``error:`` line naming the URI and exit code 2,
never a traceback: a file store (``file:`` or a plain path; MLflow 3 refuses to open one), and a
web server that answers 200 with an HTML page (not MLflow), on ``/health`` or on its API."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from papercls.tracking import stage_main, stage_run

HTML = b"<!DOCTYPE html><html><body>Welcome to nginx!</body></html>"


def _stage() -> int:
    with stage_run("evaluate", {"tracking": {"experiment": "store"}}):
        pytest.fail("the stage body must not run")
    return 0


@pytest.fixture()
def repo(tmp_path: Path, monkeypatch) -> Path:
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DVC_ROOT", raising=False)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    return tmp_path


def _one_error(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


@pytest.mark.parametrize("kind", ["file-uri", "absolute-path", "relative-path"])
def test_file_store_is_an_error_saying_to_use_sqlite(repo, monkeypatch, capsys, kind):
    uri = {
        "file-uri": (repo / "mlruns").as_uri(),
        "absolute-path": str(repo / "mlruns"),
        "relative-path": "./mlruns",
    }[kind]
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    assert stage_main(_stage) == 2
    line = _one_error(capsys)
    assert uri in line and "file store" in line and "sqlite:///" in line, line
    assert not (repo / "mlruns").exists() and not (repo / "mlflow.db").exists()


class _Html(http.server.BaseHTTPRequestHandler):
    health_html = True  # False: /health answers "OK" and only the API answers HTML

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        body = b"OK" if self.path == "/health" and not self.health_html else HTML
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET  # noqa: N815

    def log_message(self, *args) -> None:
        pass


@pytest.fixture()
def html_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Html)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("where", ["health", "api"])
def test_html_server_is_an_error_naming_the_uri(repo, monkeypatch, capsys, html_server, where):
    monkeypatch.setattr(_Html, "health_html", where == "health")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", html_server)
    assert stage_main(_stage) == 2
    line = _one_error(capsys)
    assert html_server in line and "not an MLflow tracking server" in line, line
    assert not (repo / "mlflow.db").exists()


def test_an_unparseable_uri_is_not_taken_for_a_file_store() -> None:
    """"http://user:pw@[::1" does not parse: the file-store check passes it on to the health
    check, whose error is redacted (tests/reliability/test_secrets.py), instead of raising."""
    from papercls.tracking.uri import is_file_store

    assert is_file_store("http://user:pw@[::1") is False
    assert is_file_store("file:///tmp/mlruns") is True
