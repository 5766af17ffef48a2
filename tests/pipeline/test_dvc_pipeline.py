"""The real DVC pipeline on a tiny config in a temporary git repository.

One module-scoped repo: the first `dvc repro` builds everything (tiny encoders, 1 epoch), later
tests check the no-op rerun, that a threshold-only change reruns only the threshold and predict
stages, and that `dvc metrics diff` shows the changed figures.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from papercls.synthetic.sample import write_sample

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def run(cmd: list[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env.pop("MLFLOW_TRACKING_URI", None)
    env.pop("DVC_ROOT", None)
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


def tiny_params(backbone: Path) -> dict:
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    for name in ("baseline", "topline"):
        # min_steps 0: exactly one short epoch (the default budget would raise it to 10 here)
        params[name].update(
            backbone=str(backbone), max_length=32, batch_size=16, epochs=1, min_steps=0
        )
    params["tfidf"]["max_features"] = 2000
    params["thresholds"]["bootstrap"] = 50
    return params


def make_repo(dest: Path, backbone: Path) -> Path:
    dest.mkdir(parents=True)
    for name in ("dvc.yaml", ".gitignore", ".dvcignore"):
        shutil.copy2(ROOT / name, dest / name)
    for name in ("stages", "src"):
        shutil.copytree(
            ROOT / name, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
        )
    (dest / "params.yaml").write_text(yaml.safe_dump(tiny_params(backbone), sort_keys=False))
    write_sample(dest / "data" / "sample", n_train=160, n_test=40, seed=7)
    run(["git", "init", "-q", "-b", "main"], dest)
    run(["git", "config", "user.email", "ci@example.com"], dest)
    run(["git", "config", "user.name", "ci"], dest)
    run(["dvc", "init", "-q"], dest)
    run(["git", "add", "-A"], dest)
    run(["git", "commit", "-qm", "init"], dest)
    return dest


def stages_run(output: str) -> set[str]:
    return set(re.findall(r"Running stage '([^']+)'", output))


@pytest.fixture(scope="module")
def repo(tmp_path_factory, tiny_bert_dir) -> Path:
    d = make_repo(tmp_path_factory.mktemp("pipeline") / "repo", tiny_bert_dir)
    proc = run(["dvc", "repro"], d)
    d.joinpath("first_repro.log").write_text(proc.stdout)
    run(["git", "add", "-A"], d)
    run(["git", "commit", "-qm", "first run"], d)
    return d


def test_repro_builds_every_stage(repo: Path) -> None:
    ran = stages_run(repo.joinpath("first_repro.log").read_text())
    assert ran == {
        "check_params",
        "preprocess",
        "train_tfidf",
        "train@baseline",
        "train@topline",
        "ensemble",
        "evaluate",
        "tune_thresholds",
        "predict",
    }
    sub = pd.read_csv(repo / "submission.csv")
    test = pd.read_csv(repo / "data" / "sample" / "test.csv")
    assert list(sub.columns) == ["uuid", "label"]
    assert sub["uuid"].tolist() == test["uuid"].tolist()
    assert set(sub["label"].unique()) <= {0, 1}
    for name in ("tfidf", "baseline", "topline", "ensemble"):
        figures = json.loads((repo / "metrics" / name / "eval.json").read_text())
        assert 0.0 <= figures["f1"] <= 1.0
        # the bundled test CSV has no labels: no test figures
        assert json.loads((repo / "metrics" / name / "test.json").read_text()) == {
            "labelled": False
        }
    assert (repo / "models" / "topline" / "model.safetensors").exists()
    shown = run(["dvc", "metrics", "show", "--json"], repo).stdout
    assert "metrics/topline/eval.json" in shown and "metrics/ensemble/test.json" in shown


def test_second_repro_is_a_noop(repo: Path) -> None:
    proc = run(["dvc", "repro"], repo)
    assert stages_run(proc.stdout) == set()
    assert json.loads(run(["dvc", "status", "--json"], repo).stdout) == {}


def test_threshold_change_reruns_only_tuning_and_predict(repo: Path) -> None:
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["thresholds"]["method"] = "fixed"
    params["thresholds"]["fixed"] = 0.05
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    proc = run(["dvc", "repro"], repo)
    # check_params reruns on any params change; its output is the same, so it reruns nothing
    assert stages_run(proc.stdout) == {"check_params", "tune_thresholds", "predict"}
    diff = json.loads(run(["dvc", "metrics", "diff", "--json"], repo).stdout)
    changed = {path for path, figures in diff.items() if figures}
    assert any(path.endswith("tuned.json") for path in changed), diff
    assert not any(path.endswith("eval.json") for path in changed), diff
    tuned = json.loads((repo / "metrics" / "topline" / "tuned.json").read_text())
    assert tuned["threshold"] == pytest.approx(0.05)


def test_every_stage_logged_one_mlflow_run(repo: Path) -> None:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{repo / 'mlflow.db'}")
    exp = client.get_experiment_by_name("paper-classification")
    runs = client.search_runs([exp.experiment_id], max_results=100)
    by_stage: dict[str, list] = {}
    for r in runs:
        by_stage.setdefault(r.data.tags.get("dvc.stage"), []).append(r)
    assert {"train_tfidf", "train@baseline", "train@topline", "evaluate", "tune_thresholds"} <= set(
        by_stage
    )
    assert all(r.info.status == "FINISHED" for r in runs)
    base = by_stage["train@baseline"][-1]
    assert base.data.params["baseline.max_length"] == "32"
    assert len(base.data.tags["git.commit"]) == 40
    assert base.data.tags["data.hash"] != "unknown"
    history = client.get_metric_history(base.info.run_id, "valid_f1")
    assert [m.step for m in history] == [1]
    evaluate = by_stage["evaluate"][-1]
    assert 0.0 <= evaluate.data.metrics["topline.f1"] <= 1.0
    artifacts = {a.path for a in client.list_artifacts(evaluate.info.run_id)}
    assert "summary.md" in artifacts
    pictures = {a.path for a in client.list_artifacts(evaluate.info.run_id, "figures")}
    assert {"figures/roc.png", "figures/pr.png"} <= pictures
    tuned = by_stage["tune_thresholds"][-1]
    pictures = {a.path for a in client.list_artifacts(tuned.info.run_id, "figures")}
    assert {"figures/f1_threshold.png", "figures/confusion.png"} <= pictures


def test_registry_candidate_is_latest_and_champion_is_best(repo: Path) -> None:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{repo / 'mlflow.db'}")
    versions = client.search_model_versions("name='paper-classifier'")
    assert len(versions) >= 1
    latest = max(int(v.version) for v in versions)
    candidate = client.get_model_version_by_alias("paper-classifier", "candidate")
    champion = client.get_model_version_by_alias("paper-classifier", "champion")
    assert int(candidate.version) == latest
    best = max(float(v.tags["f1"]) for v in versions)
    assert float(champion.tags["f1"]) == best


def test_stage_logs_to_a_real_tracking_server(repo: Path, tmp_path: Path) -> None:
    import socket
    import time
    import urllib.request

    from mlflow import MlflowClient

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    uri = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--backend-store-uri",
            f"sqlite:///{tmp_path / 'server.db'}",
            "--default-artifact-root",
            str(tmp_path / "artifacts"),
            "--workers",
            "1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(uri + "/health", timeout=2):
                    break
            except OSError:
                assert time.monotonic() < deadline, "mlflow server did not come up"
                time.sleep(0.5)
        env = dict(os.environ)
        env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
        env["MLFLOW_TRACKING_URI"] = uri
        proc = subprocess.run(
            ["dvc", "repro", "-f", "-s", "evaluate"],
            cwd=repo,
            env=env,
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        client = MlflowClient(tracking_uri=uri)
        exp = client.get_experiment_by_name("paper-classification")
        runs = client.search_runs([exp.experiment_id])
        assert [r.data.tags["dvc.stage"] for r in runs] == ["evaluate"]
        assert runs[0].info.status == "FINISHED"
        assert runs[0].data.params["evaluate.models"]
        assert "baseline.f1" in runs[0].data.metrics
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)


def test_push_and_pull_restore_a_deleted_model(repo: Path, tmp_path: Path) -> None:
    run(["dvc", "remote", "add", "-f", "-d", "store", str(tmp_path / "remote")], repo)
    run(["dvc", "push"], repo)
    weights = repo / "models" / "topline" / "model.safetensors"
    before = weights.read_bytes()
    shutil.rmtree(repo / "models" / "topline")
    shutil.rmtree(repo / ".dvc" / "cache")
    run(["dvc", "pull"], repo)
    assert weights.read_bytes() == before
    assert json.loads(run(["dvc", "status", "--json"], repo).stdout) == {}


def test_ci_retrain_script_reports_changed_metrics_after_a_data_change(repo: Path) -> None:
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", "state before the data change"], repo)
    write_sample(repo / "data" / "sample", n_train=160, n_test=40, seed=99)
    proc = run(["bash", str(ROOT / ".ci" / "retrain"), "HEAD"], repo)
    ran = stages_run(proc.stdout)
    assert {"preprocess", "train@topline", "evaluate"} <= ran
    report = (repo / "report.md").read_text()
    assert "metrics/topline/eval.json" in report
    assert "no changes" not in report.split("## Metrics", 1)[-1].split("##", 1)[0].lower()


def test_labelled_test_csv_is_scored_in_metrics(repo: Path) -> None:
    test_csv = repo / "data" / "sample" / "test.csv"
    test = pd.read_csv(test_csv, dtype=str, keep_default_na=False)
    test["label"] = [str(i % 2) for i in range(len(test))]
    test.to_csv(test_csv, index=False)
    run(["dvc", "repro"], repo)
    prepared = pd.read_parquet(repo / "data" / "prepared" / "test.parquet")
    assert prepared["label"].tolist() == [i % 2 for i in range(len(test))]
    shown = json.loads(run(["dvc", "metrics", "show", "--json"], repo).stdout)
    text = json.dumps(shown)
    for name in ("tfidf", "baseline", "topline", "ensemble"):
        figures = json.loads((repo / "metrics" / name / "test.json").read_text())
        assert figures["labelled"] is True and figures["tuned"]["n"] == len(test)
        assert figures["at_0.5"]["threshold"] == 0.5
        assert f"metrics/{name}/test.json" in text


def test_readme_curated_exp_show_is_a_short_table(repo: Path) -> None:
    """The README's `dvc exp show --drop ... --keep ...` view runs and keeps a handful of
    columns, the tuned F1 of every encoder among them."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    command = next(line for line in readme.splitlines() if line.startswith("dvc exp show --drop"))
    args = shlex.split(command)[3:]  # after "dvc exp show"
    full = run(["dvc", "exp", "show", "--no-pager", "--csv"], repo).stdout.splitlines()[0]
    shown = run(["dvc", "exp", "show", "--no-pager", "--csv", *args], repo).stdout.splitlines()[0]
    columns = shown.split(",")
    assert len(columns) <= 15 < len(full.split(","))
    for name in ("baseline", "topline", "ensemble"):
        assert f"metrics/{name}/tuned.json:f1" in columns, columns
    assert "topline.epochs" in columns
