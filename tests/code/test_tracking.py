"""papercls.tracking against a real ``mlflow server`` (SQLite backend) started once per module,
plus the local SQLite fallback and a real ``dvc exp run --temp``."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from papercls import tracking
from papercls.tracking import (
    CANDIDATE_ALIAS,
    CHAMPION_ALIAS,
    TrackingUnavailable,
    promote_if_better,
    register_candidate,
    stage_run,
)
from papercls.tracking.serving import log_servable

pytestmark = pytest.mark.slow

PREPARED_MD5 = "0123456789abcdef0123456789abcdef.dir"
BIN_DIR = str(Path(sys.executable).parent)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/health", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


@pytest.fixture(scope="module", autouse=True)
def _server_process(tmp_path_factory):
    """Starts a real MLflow server (SQLite backend) on 127.0.0.1 as soon as the module starts,
    so that it boots while the tests that need no server run; terminated at module end."""
    d = tmp_path_factory.mktemp("mlflow_server")
    port = _free_port()
    log_path = d / "server.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env["PATH"] = BIN_DIR + os.pathsep + env.get("PATH", "")
    env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"  # no job-runner process: faster boot
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mlflow",
                "server",
                "--backend-store-uri",
                f"sqlite:///{d / 'mlflow.db'}",
                "--default-artifact-root",
                str(d / "artifacts"),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "1",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    try:
        yield proc, f"http://127.0.0.1:{port}", log_path
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=20)


@pytest.fixture(scope="module")
def server(_server_process) -> str:
    """URI of the module's MLflow server, once /health answers (at most 60 s)."""
    proc, url, log_path = _server_process
    deadline = time.monotonic() + 60
    while not _healthy(url):
        if proc.poll() is not None:
            pytest.fail(f"mlflow server exited {proc.returncode}:\n{_tail(log_path)}")
        if time.monotonic() > deadline:
            pytest.fail(f"mlflow server not healthy after 60 s:\n{_tail(log_path)}")
        time.sleep(0.5)
    return url


def _tail(path: Path, n: int = 3000) -> str:
    return path.read_text(errors="replace")[-n:]


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture()
def fake_repo(tmp_path, monkeypatch) -> Path:
    """A committed git repository with a dvc.lock, used as DVC_ROOT, the working directory and
    (to catch absolute home paths) $HOME's child."""
    home = tmp_path / "home"
    repo = home / "proj"
    repo.mkdir(parents=True)
    _git(repo, "init", "-q")
    _git(repo, "config", "user.email", "ci@example.com")
    _git(repo, "config", "user.name", "CI")
    lock = {
        "schema": "2.0",
        "stages": {
            "preprocess": {
                "cmd": "python stages/preprocess.py",
                "deps": [
                    {"path": "data/sample/train.csv", "md5": "aa" * 16, "size": 1},
                    {"path": "stages/preprocess.py", "md5": "bb" * 16, "size": 1},
                ],
                "outs": [{"path": "data/prepared", "md5": PREPARED_MD5, "nfiles": 4}],
            }
        },
    }
    (repo / "dvc.lock").write_text(yaml.safe_dump(lock))
    (repo / "params.yaml").write_text("baseline: {lr: 5.0e-5}\n")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "init")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("DVC_ROOT", str(repo))
    monkeypatch.delenv("DVC_EXP_NAME", raising=False)
    monkeypatch.delenv("DVC_EXP_BASELINE_REV", raising=False)
    monkeypatch.chdir(repo)
    return repo


@pytest.fixture()
def remote(server, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server)
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=server)


def _params(experiment: str, **sections) -> dict:
    return {**sections, "tracking": {"experiment": experiment}}


# --------------------------------------------------------------------------- URIs


def test_default_uri_is_sqlite_at_dvc_root(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("DVC_ROOT", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    assert tracking.tracking_uri() == f"sqlite:///{tmp_path.resolve()}/mlflow.db"
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "dvc.yaml").write_text("stages: {}\n")
    monkeypatch.chdir(tmp_path / "work")  # DVC runs stages where dvc.yaml is
    assert tracking.tracking_uri() == f"sqlite:///{(tmp_path / 'work').resolve()}/mlflow.db"


@pytest.mark.parametrize("sub", ["exps/tmpab12cd34", "exps/standalone/tmpzz99", "exps/tmpq/sub"])
def test_dvc_temp_experiment_copy_maps_to_main_repo(tmp_path, monkeypatch, sub):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    temp = tmp_path / ".dvc" / "tmp" / sub
    temp.mkdir(parents=True)
    monkeypatch.setenv("DVC_ROOT", str(temp))
    monkeypatch.chdir(temp)
    assert tracking.main_repo_root() == tmp_path.resolve()
    assert tracking.tracking_uri() == f"sqlite:///{tmp_path.resolve()}/mlflow.db"
    # a relative sqlite URI means the main repository's root, not the temporary copy
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///runs/m.db")
    assert tracking.tracking_uri() == f"sqlite:///{tmp_path.resolve()}/runs/m.db"


def test_env_uri_wins(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:1")
    assert tracking.tracking_uri() == "http://127.0.0.1:1"


def test_data_hashes_from_lock_or_unknown(tmp_path, fake_repo):
    h = tracking.data_hashes(fake_repo)
    assert h["data.hash"] == PREPARED_MD5
    assert h["data.raw_hash"] not in ("", "unknown")
    assert tracking.data_hashes(tmp_path / "nowhere") == {
        "data.hash": "unknown",
        "data.raw_hash": "unknown",
    }


def test_process_env_disables_transformers_mlflow_callback():
    tracking.configure_process()
    assert os.environ["DISABLE_MLFLOW_INTEGRATION"] == "TRUE"
    assert int(os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"]) <= 3
    assert int(os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"]) <= 60


# --------------------------------------------------------------------------- dead server


def test_dead_server_raises_quickly(fake_repo, monkeypatch):
    uri = f"http://127.0.0.1:{_free_port()}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    t0 = time.monotonic()
    with pytest.raises(TrackingUnavailable, match=uri.replace(".", r"\.")):
        with stage_run("train@baseline", _params("never")):
            pytest.fail("the body must not run without a tracking server")
    assert time.monotonic() - t0 < 15
    assert not (fake_repo / "mlflow.db").exists()


def test_dead_server_falls_back_to_local_sqlite(fake_repo, monkeypatch):
    uri = f"http://127.0.0.1:{_free_port()}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    params = {"tracking": {"experiment": "fallback", "fail_on_unavailable": False}}
    t0 = time.monotonic()
    with pytest.warns(RuntimeWarning, match="unreachable"):
        with stage_run("evaluate", params) as run:
            assert time.monotonic() - t0 < 60
            run.log_metrics({"f1": 0.5})
            run_id = run.run_id
    db = fake_repo / "mlflow.db"
    assert db.is_file()
    from mlflow import MlflowClient

    local = MlflowClient(tracking_uri=f"sqlite:///{db}")
    r = local.get_run(run_id)
    assert r.info.status == "FINISHED" and r.data.metrics == {"f1": 0.5}
    exp = local.get_experiment(r.info.experiment_id)
    assert exp.artifact_location == (fake_repo / "mlartifacts").as_uri()


# --------------------------------------------------------------------------- dvc exp run --temp


def test_dvc_exp_run_temp_logs_into_original_repo(tmp_path, monkeypatch):
    """A stage run by ``dvc exp run --temp`` (in .dvc/tmp/exps/...) logs into the original
    repository's mlflow.db and is tagged with the experiment's name."""
    repo = tmp_path / "toy"
    repo.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "DVC_"))}
    env["PATH"] = BIN_DIR + os.pathsep + env.get("PATH", "")
    env["DVC_NO_ANALYTICS"] = "true"

    def sh(*cmd: str) -> str:
        p = subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True, timeout=240)
        assert p.returncode == 0, f"{cmd}: {p.stdout}\n{p.stderr}"
        return p.stdout

    sh("git", "init", "-q")
    sh("git", "config", "user.email", "ci@example.com")
    sh("git", "config", "user.name", "CI")
    sh(sys.executable, "-m", "dvc", "init", "-q")
    (repo / "stage.py").write_text(
        textwrap.dedent(
            """
            import os, yaml
            from papercls.tracking import stage_run
            params = yaml.safe_load(open("params.yaml"))
            with stage_run("toy", params) as run:
                run.log_metrics({"p": params["toy"]["p"]})
            with open("out.txt", "w") as fh:
                fh.write(os.getcwd())
            """
        )
    )
    (repo / "params.yaml").write_text("toy: {p: 1}\ntracking: {experiment: toy}\n")
    (repo / "dvc.yaml").write_text(
        "stages:\n  toy:\n    cmd: python stage.py\n    deps: [stage.py]\n"
        "    params: [toy]\n    outs: [out.txt]\n"
    )
    (repo / ".gitignore").write_text("/mlflow.db\n/mlartifacts/\n")
    sh("git", "add", "-A")
    sh("git", "commit", "-qm", "toy")
    sh(sys.executable, "-m", "dvc", "exp", "run", "--temp", "-n", "toy-exp", "-S", "toy.p=7")

    db = repo / "mlflow.db"
    assert db.is_file(), "the run must land in the original repository's database"
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{db}")
    runs = client.search_runs([client.get_experiment_by_name("toy").experiment_id])
    assert len(runs) == 1
    r = runs[0]
    assert r.info.status == "FINISHED"
    assert r.data.tags["dvc.exp_name"] == "toy-exp"
    assert r.data.params["toy.p"] == "7" and r.data.metrics["p"] == 7.0
    assert r.data.tags["git.commit"] == sh("git", "rev-parse", "HEAD").strip()
    assert not list((repo / ".dvc" / "tmp").rglob("mlflow.db"))


# --------------------------------------------------------------------------- runs


def test_stage_run_logs_params_metrics_tags_artifact(remote, fake_repo, monkeypatch):
    monkeypatch.setenv("DVC_EXP_NAME", "brisk-lynx")
    monkeypatch.setenv("DVC_EXP_BASELINE_REV", _git(fake_repo, "rev-parse", "HEAD"))
    exp = f"exp-{uuid.uuid4().hex[:8]}"
    artifact = fake_repo / "history.csv"
    artifact.write_text("epoch,valid_f1\n1,0.5\n")
    params = _params(exp, baseline={"lr": 5.0e-5, "epochs": 3, "head": {"hidden": 128}})
    with stage_run("train@baseline", params) as run:
        for epoch, f1 in enumerate([0.5, 0.6, 0.7], start=1):
            run.log_epoch(epoch, {"valid_f1": f1, "train_loss": 1.0 / epoch})
        run.log_metrics({"best_valid_f1": np.float32(0.7)})
        run.log_artifact(artifact)
        run_id = run.run_id

    r = remote.get_run(run_id)
    assert r.info.status == "FINISHED"
    assert remote.get_experiment(r.info.experiment_id).name == exp
    assert r.info.run_name == "train@baseline"
    assert r.data.params == {
        "baseline.lr": "5e-05",
        "baseline.epochs": "3",
        "baseline.head.hidden": "128",
        "tracking.experiment": exp,
    }
    hist = remote.get_metric_history(run_id, "valid_f1")
    assert [(m.step, m.value) for m in sorted(hist, key=lambda m: m.step)] == [
        (1, 0.5),
        (2, 0.6),
        (3, 0.7),
    ]
    assert r.data.metrics["best_valid_f1"] == pytest.approx(0.7)
    tags = r.data.tags
    assert tags["git.commit"] == _git(fake_repo, "rev-parse", "HEAD")
    assert tags["git.dirty"] == "false"
    assert tags["dvc.stage"] == "train@baseline"
    assert tags["dvc.exp_name"] == "brisk-lynx"
    assert tags["data.hash"] == PREPARED_MD5
    assert [a.path for a in remote.list_artifacts(run_id)] == ["history.csv"]


def test_no_exp_name_tag_outside_experiments(remote, fake_repo):
    with stage_run("evaluate", _params(f"exp-{uuid.uuid4().hex[:8]}")) as run:
        run_id = run.run_id
    assert "dvc.exp_name" not in remote.get_run(run_id).data.tags


def test_no_home_paths_or_secrets_logged(remote, fake_repo, monkeypatch):
    home = os.environ["HOME"]
    params = _params(
        f"exp-{uuid.uuid4().hex[:8]}",
        baseline={
            "backbone": f"{home}/models/minilm",  # under $HOME, outside the repository
            "out": str(fake_repo / "models" / "baseline"),  # inside the repository
            "hub_token": "hf_secret_value",
        },
    )
    with stage_run("train@baseline", params) as run:
        run_id = run.run_id
    data = remote.get_run(run_id).data
    everything = json.dumps([data.params, data.tags])
    assert home not in everything
    assert "hf_secret_value" not in everything and "baseline.hub_token" not in data.params
    assert data.params["baseline.backbone"] == "~/models/minilm"
    assert data.params["baseline.out"] == "./models/baseline"


def test_exception_marks_run_failed(remote, fake_repo):
    box = {}
    with pytest.raises(ValueError, match="boom"):
        with stage_run("train@topline", _params(f"exp-{uuid.uuid4().hex[:8]}")) as run:
            box["id"] = run.run_id
            raise ValueError("boom")
    assert remote.get_run(box["id"]).info.status == "FAILED"


def test_keyboard_interrupt_marks_run_killed(remote, fake_repo):
    box = {}
    with pytest.raises(KeyboardInterrupt):
        with stage_run("train@topline", _params(f"exp-{uuid.uuid4().hex[:8]}")) as run:
            box["id"] = run.run_id
            raise KeyboardInterrupt
    assert remote.get_run(box["id"]).info.status == "KILLED"
    import mlflow

    assert mlflow.active_run() is None


def test_sigterm_marks_run_killed(remote, server, fake_repo):
    script = textwrap.dedent(
        """
        import sys, time
        from papercls.tracking import stage_run
        with stage_run("train@baseline", {"tracking": {"experiment": sys.argv[1]}}) as run:
            print(run.run_id, flush=True)
            try:
                time.sleep(120)
            except Exception:  # stage code catching Exception must not swallow SIGTERM
                pass
        """
    )
    env = dict(os.environ, MLFLOW_TRACKING_URI=server, DVC_ROOT=str(fake_repo))
    proc = subprocess.Popen(
        [sys.executable, "-c", script, f"exp-{uuid.uuid4().hex[:8]}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=fake_repo,
    )
    try:
        run_id = proc.stdout.readline().strip()
        assert run_id, proc.stderr.read()
        assert remote.get_run(run_id).info.status == "RUNNING"
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert rc != 0
    assert remote.get_run(run_id).info.status == "KILLED"


# --------------------------------------------------------------------------- registry


@pytest.fixture(scope="module")
def tiny_classifier_dir(tmp_path_factory, tiny_bert_dir) -> Path:
    """A save_pretrained BertForSequenceClassification (tiny, random) with its tokenizer."""
    from transformers import AutoTokenizer, BertForSequenceClassification, set_seed

    set_seed(0)
    d = tmp_path_factory.mktemp("tiny_cls")
    BertForSequenceClassification.from_pretrained(tiny_bert_dir, num_labels=2).save_pretrained(d)
    AutoTokenizer.from_pretrained(tiny_bert_dir).save_pretrained(d)
    return d


def test_registry_candidate_and_champion(remote, fake_repo, tiny_classifier_dir):
    name = f"paper-classifier-{uuid.uuid4().hex[:8]}"
    exp = f"exp-{uuid.uuid4().hex[:8]}"

    def candidate(f1: float) -> tuple[str, bool]:
        with stage_run("tune_thresholds", _params(exp)) as run:
            version = register_candidate(run, tiny_classifier_dir, name, f1)
            assert remote.get_model_version_by_alias(name, CANDIDATE_ALIAS).version == version
            return version, promote_if_better(run.client, name, version, f1)

    def champion() -> str:
        return str(remote.get_model_version_by_alias(name, CHAMPION_ALIAS).version)

    v1, moved = candidate(0.80)
    assert moved and champion() == v1  # no champion yet
    assert remote.get_model_version(name, v1).tags["f1"] == "0.8"
    v2, moved = candidate(0.75)
    assert not moved and champion() == v1  # worse: champion stays
    v3, moved = candidate(0.80)
    assert not moved and champion() == v1  # equal is not better
    v4, moved = candidate(0.85)
    assert moved and champion() == v4
    assert len({v1, v2, v3, v4}) == 4
    assert str(remote.get_model_version_by_alias(name, CANDIDATE_ALIAS).version) == v4
    assert not promote_if_better(remote, name, v2, 0.75)  # an old, worse version
    assert champion() == v4


def test_logged_pyfunc_predicts_like_the_saved_model(remote, fake_repo, tiny_classifier_dir):
    import mlflow

    from papercls.inference.encoder import predict_dir_proba

    texts = ["patient therapy [SEP] cancer [SEP] clinical study", "galaxy lattice [SEP] laser"]
    with stage_run("train@baseline", _params(f"exp-{uuid.uuid4().hex[:8]}")) as run:
        info = log_servable(run, tiny_classifier_dir, "transformers", template=None)
    model = mlflow.pyfunc.load_model(info.model_uri)
    got = model.predict(pd.DataFrame({"text": texts}))
    want = predict_dir_proba(tiny_classifier_dir, texts, device="cpu")
    assert got.columns.tolist() == ["prob", "label"]
    np.testing.assert_allclose(got["prob"], want, rtol=1e-5)
    assert got["label"].tolist() == [int(p >= 0.5) for p in want]  # no tuned threshold given
    assert "text" in info.signature.inputs.input_names()
    # models from code: the weights are the safetensors file, copied as-is; nothing is pickled
    local = Path(mlflow.artifacts.download_artifacts(info.model_uri))
    assert list(local.rglob("model.safetensors"))
    assert not list(local.rglob("*.pkl"))


def test_log_servable_rejects_non_model_dir(remote, fake_repo, tmp_path):
    with pytest.raises(FileNotFoundError):
        with stage_run("train@baseline", _params(f"exp-{uuid.uuid4().hex[:8]}")) as run:
            log_servable(run, tmp_path, "custom", template=None)
