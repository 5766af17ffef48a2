"""Interrupting a training stage: SIGTERM to the process group of ``dvc repro train@baseline``
(what `kill`, a CI runner's cancel or a container stop sends; DVC itself dies at once, the stage
handles it) in the middle of training, after the first epoch checkpoint.

Right after the kill there must be no (partial) ``models/baseline``, nothing of that stage in
dvc.lock (so nothing of it in the DVC cache), a complete checkpoint whose optimizer state loads
with ``weights_only=True``, and the stage's MLflow run must be KILLED, never left RUNNING. Then a
plain ``dvc repro`` resumes from the checkpoint and finishes the pipeline.

The kill and the rerun happen once, in the session fixture ``built_repo`` (conftest.py), which
records what it saw right after the kill in ``built_repo.notes["kill"]``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from reliability_support import BASELINE_EPOCHS, KILLED_STAGE, Repo, mlflow_runs, stages_run

from papercls.inference.encoder import load_classifier, predict_proba

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def kill(built_repo: Repo) -> dict:
    return built_repo.notes["kill"]


def test_killed_stage_fails_and_leaves_no_model(kill: dict) -> None:
    assert kill["rc"] != 0, kill["log"]
    assert "epoch 1/" in kill["log"], "the kill must land during training"
    # models/baseline is written (to a temp dir, then renamed) only once training is done
    assert [n for n in kill["models"] if n != ".gitignore"] == ["baseline.ckpt"], kill["models"]
    assert not kill["baseline_predictions"]
    assert KILLED_STAGE not in kill["locked_stages"], "a killed stage must not reach dvc.lock"


def test_killed_stage_leaves_a_complete_safe_checkpoint(kill: dict) -> None:
    assert kill["checkpoint"], kill["log"]
    done = int(Path(kill["checkpoint"]).name.split("-")[1])
    assert 1 <= done < BASELINE_EPOCHS, "the kill must land before training ends"
    assert {"model.safetensors", "optimizer.pt", "scheduler.pt", "state.json"} <= set(
        kill["checkpoint_files"]
    )
    assert set(kill["checkpoint_files"]) <= {
        "model.safetensors",
        "best.safetensors",
        "optimizer.pt",
        "scheduler.pt",
        "state.json",
    }
    assert kill["weights_only"] == {"optimizer.pt": True, "scheduler.pt": True}


def test_killed_stage_run_is_marked_killed(kill: dict) -> None:
    assert kill["runs"] == [(KILLED_STAGE, "KILLED")], (kill["runs"], kill["log"][-3000:])


def test_repro_after_the_kill_resumes_and_completes(built_repo: Repo, kill: dict) -> None:
    log = built_repo.notes["repro_log"]
    done = int(Path(kill["checkpoint"]).name.split("-")[1])
    assert KILLED_STAGE in stages_run(log)
    assert f"resuming from {kill['checkpoint']} (epoch {done} done)" in log, log[-3000:]
    root = built_repo.root
    assert not (root / "models" / "baseline.ckpt").exists(), "checkpoint removed after success"
    model, tok = load_classifier(root / "models" / "baseline", device="cpu")
    probs = predict_proba(model, tok, ["a clinical trial of a cancer therapy"], None)
    assert probs.shape == (1,) and 0.0 <= probs[0] <= 1.0
    history = (root / "metrics" / "baseline" / "history.csv").read_text().splitlines()
    assert len(history) == 1 + BASELINE_EPOCHS  # header + every epoch, resumed ones included


def test_no_run_left_running(built_repo: Repo) -> None:
    runs = mlflow_runs(built_repo.root)
    assert [r.info.status for r in runs if r.info.status == "RUNNING"] == []
    baseline = [r.info.status for r in runs if r.data.tags.get("dvc.stage") == KILLED_STAGE]
    assert baseline[:2] == ["KILLED", "FINISHED"], baseline


def test_dvc_cache_holds_the_complete_model(built_repo: Repo) -> None:
    """What DVC cached after the resumed run is the full model: restore it and compare."""
    model_dir = built_repo.root / "models" / "baseline"
    digest = _tree_md5(model_dir)
    built_repo.sh("rm", "-rf", str(model_dir))
    built_repo.sh("dvc", "checkout", "models/baseline")
    assert _tree_md5(model_dir) == digest
    assert built_repo.sh("dvc", "status", "--json").stdout.strip() == "{}"


def _tree_md5(d: Path) -> dict[str, str]:
    return {
        str(p.relative_to(d)): hashlib.md5(p.read_bytes()).hexdigest()
        for p in sorted(d.rglob("*"))
        if p.is_file()
    }


def test_interrupted_final_save_leaves_no_partial_dir(tiny_bert_dir, tiny_corpus, tmp_path):
    """A signal while the finished model is being written (after the last epoch) leaves neither
    models/<name> nor a hidden temp folder beside it; the rerun writes the model from the
    checkpoint without training again. Regression: the temp folder was left behind."""
    import torch
    from transformers import AutoTokenizer, set_seed

    from papercls.models.fused_head import build_baseline
    from papercls.training.checkpoint import latest_checkpoint
    from papercls.training.config import TrainConfig
    from papercls.training.loop import train

    cfg = TrainConfig(
        max_length=32, batch_size=16, epochs=1, lr=1e-3, seed=3, threads=1, progress=False
    )
    out = tmp_path / "models" / "baseline"
    threads = torch.get_num_threads()

    def fresh():
        set_seed(3)
        return build_baseline(str(tiny_bert_dir)), AutoTokenizer.from_pretrained(tiny_bert_dir)

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # what stage_run's SIGTERM handler raises (StageTerminated)

    try:
        model, tok = fresh()
        tok.save_pretrained = killed  # the weights are written, then the signal arrives
        with pytest.raises(KeyboardInterrupt):
            train(model, tok, tiny_corpus["train"], tiny_corpus["valid"], cfg, out)
        assert sorted(p.name for p in out.parent.iterdir()) == ["baseline.ckpt"]
        assert latest_checkpoint(out.parent / "baseline.ckpt").name == "epoch-0001"

        model, tok = fresh()
        result = train(model, tok, tiny_corpus["train"], tiny_corpus["valid"], cfg, out)
    finally:
        torch.set_num_threads(threads)
    assert result.completed and result.resumed_from_epoch == 1 and result.epochs_run == 0
    assert sorted(p.name for p in out.parent.iterdir()) == ["baseline"]
    load_classifier(out, device="cpu")


def test_sigterm_while_the_run_is_created_still_closes_it(tmp_path, monkeypatch):
    """A SIGTERM that arrives while stage_run creates its MLflow run (a stage killed during
    start-up) must still leave that run KILLED. Regression: the handler raised inside
    create_run, before the code that closes the run, and the run stayed RUNNING."""
    import os
    import signal

    from mlflow import MlflowClient

    from papercls.tracking import StageTerminated, stage_run

    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    real = MlflowClient.create_run

    def create_then_signal(self, *args, **kwargs):
        run = real(self, *args, **kwargs)
        os.kill(os.getpid(), signal.SIGTERM)  # its handler runs before this returns
        return run

    monkeypatch.setattr(MlflowClient, "create_run", create_then_signal)
    with pytest.raises(StageTerminated):
        with stage_run("train@baseline", {"tracking": {"experiment": "startup"}}):
            pytest.fail("the stage body must not run after a SIGTERM")
    client = MlflowClient(tracking_uri=uri)
    runs = client.search_runs([client.get_experiment_by_name("startup").experiment_id])
    assert [r.info.status for r in runs] == ["KILLED"]


@pytest.mark.parametrize("signum", ["SIGTERM", "SIGINT"])
def test_signal_during_an_mlflow_write_waits_for_it(tmp_path, monkeypatch, signum):
    """A SIGTERM or Ctrl-C that lands while a metric batch is being written to the SQLite
    store waits until the write has returned, then stops the stage; the run ends KILLED with
    that batch recorded. Regression: raised inside the database transaction, the signal left
    the run RUNNING (3 of 20 kills of a process writing metrics in a loop; 0 of 25 after)."""
    import os
    import signal

    from mlflow import MlflowClient

    from papercls.tracking import StageTerminated, stage_run

    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    real = MlflowClient.log_batch
    calls = []

    def signal_then_write(self, *args, **kwargs):
        if not kwargs.get("metrics"):  # the params, logged when the run starts
            return real(self, *args, **kwargs)
        calls.append("write")
        os.kill(os.getpid(), getattr(signal, signum))  # the handler runs before the write
        result = real(self, *args, **kwargs)
        calls.append("written")
        return result

    monkeypatch.setattr(MlflowClient, "log_batch", signal_then_write)
    with pytest.raises(StageTerminated):
        with stage_run("train@baseline", {"tracking": {"experiment": "midwrite"}}) as run:
            run.log_epoch(1, {"valid_f1": 0.5})
            calls.append("after")
    assert calls == ["write", "written"]
    client = MlflowClient(tracking_uri=uri)
    (r,) = client.search_runs([client.get_experiment_by_name("midwrite").experiment_id])
    assert r.info.status == "KILLED"
    assert r.data.metrics == {"valid_f1": 0.5}
