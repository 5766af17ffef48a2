"""Training with two processes on CPU (gloo): each process trains on its part of every global
batch, the validation figures are gathered, only the main process writes and logs, and the
result is the one-process result up to float rounding (dropout off).

The slow tests run the train stage script as a subprocess in a small workspace: with
``processes: 2`` it restarts itself under torchrun; the topline case is started by
``accelerate launch`` instead. Each is compared with the same training in one process
(``run_training`` in this process).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from papercls.config.check import check_params
from papercls.distributed import force_cpu, launched, launcher_command, launcher_env
from papercls.training.batching import (
    PAD_LABEL,
    LengthGroupedBatchSampler,
    ListDataset,
    ShardedBatchSampler,
    shard_of,
)

REPO = Path(__file__).resolve().parents[2]
HEAD = {"hidden": 16, "mean_weight": 1.0, "cls_weight": 1.0, "dropout": 0.0}


# --------------------------------------------------------------------------------------------
# batches


@pytest.mark.parametrize("world", [1, 2, 3, 4])
def test_parts_of_a_batch_hold_every_row_once_in_order(world):
    for size in range(1, 12):
        batch = list(range(100, 100 + size))
        parts = [shard_of(batch, r, world) for r in range(world)]
        assert len({len(p) for p in parts}) == 1  # one size per step on every process
        assert [i for p in parts for i in p if i >= 0] == batch
        padding = [i for p in parts for i in p if i < 0]
        assert set(padding) <= {-1 - batch[0]}
        assert len(padding) == -(-size // world) * world - size


def test_two_processes_load_the_batches_of_one():
    lengths = np.random.default_rng(0).integers(3, 40, size=37)
    one = LengthGroupedBatchSampler(lengths, 7, seed=5)
    one.set_epoch(2)
    samplers = [
        ShardedBatchSampler(LengthGroupedBatchSampler(lengths, 7, seed=5), r, 2) for r in (0, 1)
    ]
    for s in samplers:
        s.set_epoch(2)
    steps = list(zip(*samplers, strict=True))
    assert len(steps) == len(one) == len(samplers[0])
    for (a, b), batch in zip(steps, one.batches(), strict=True):
        assert [i for i in a + b if i >= 0] == batch


def test_padding_rows_carry_the_ignored_label():
    rows = ListDataset([{"input_ids": [1, 2], "labels": 1}, {"input_ids": [3], "labels": 0}])
    assert rows[-2] == {"input_ids": [3], "labels": PAD_LABEL}
    assert rows[1]["labels"] == 0


# --------------------------------------------------------------------------------------------
# launching


def test_launched_processes_without_gpu_run_on_cpu(monkeypatch):
    import torch

    for name in ("WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    assert not launched() and not force_cpu()
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert launched()
    assert force_cpu() == (not torch.cuda.is_available())


def test_launcher_command_and_threads(monkeypatch):
    cmd = launcher_command(3, "stages/train.py", ["baseline"])
    assert cmd[1:] == [
        "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=3",
        "stages/train.py", "baseline",
    ]  # fmt: skip
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert int(launcher_env(2)["OMP_NUM_THREADS"]) == max(1, (os.cpu_count() or 1) // 2)
    monkeypatch.setenv("OMP_NUM_THREADS", "5")
    assert launcher_env(2)["OMP_NUM_THREADS"] == "5"


def test_params_check_knows_processes():
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    assert params["baseline"]["processes"] == params["topline"]["processes"] == 1
    assert check_params(params) == []
    params["topline"]["processes"] = 4
    assert check_params(params) == []
    for bad in (0, 1.5, "2", True):
        params["baseline"]["processes"] = bad
        problems = check_params(params)
        assert [key for key, _ in problems] == ["baseline.processes"], bad


# --------------------------------------------------------------------------------------------
# two processes against one


@pytest.fixture(scope="module")
def backbone(tmp_path_factory, tiny_bert_dir) -> Path:
    """The tiny BERT without dropout: one and two processes then make the same updates."""
    d = tmp_path_factory.mktemp("bert_no_dropout") / "bert"
    shutil.copytree(tiny_bert_dir, d)
    config = json.loads((d / "config.json").read_text())
    config.update(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    (d / "config.json").write_text(json.dumps(config))
    return d


def _section(backbone: Path, name: str, **extra) -> dict:
    section = {
        "backbone": str(backbone), "max_length": 32, "epochs": 2, "lr": 3.0e-3, "patience": 0,
        "seed": 42, "threads": 1, "mixed_precision": "fp32", "min_steps": 0,
        # 64 train rows: the last batch holds 1 row (one process gets only padding);
        # 24 valid / 20 test rows in batches of 5: parts of 3 and 2 (one padding row)
        "batch_size": 7, "eval_batch_size": 5,
        # class weights: the loss is normalised by the whole batch's weight
        "class_weight": "balanced" if name == "topline" else "none",
    }  # fmt: skip
    if name == "topline":
        section["head"] = HEAD
    return {**section, **extra}


def _workspace(root: Path, corpus: dict, sections: dict) -> Path:
    prepared = root / "data" / "prepared"
    prepared.mkdir(parents=True)
    for split, df in corpus.items():
        df.to_parquet(prepared / f"{split}.parquet", index=False)
    meta = {"sep": "[SEP]", "template": "{title} {sep} {Keywords} {sep} {abstract}"}
    (prepared / "meta.json").write_text(json.dumps(meta))
    (root / "dvc.yaml").write_text("stages: {}\n")
    params = {**sections, "tracking": {"experiment": "two-processes"}}
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return root


def _run_stage(root: Path, name: str, launcher: list[str] | None = None):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "DVC_", "HF_"))}
    env["MLFLOW_TRACKING_URI"] = f"sqlite:///{root / 'mlflow.db'}"
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), env.get("PYTHONPATH", "")])
    env["OMP_NUM_THREADS"] = "1"
    script = str(REPO / "stages" / "train.py")
    cmd = [*launcher, script, name] if launcher else [sys.executable, script, name]
    proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=900)
    return proc, proc.stdout + proc.stderr


def _reference(root: Path, corpus: dict, name: str, section: dict) -> Path:
    """The same training in one process (this one)."""
    import torch

    from papercls.training.stage import run_training

    threads = torch.get_num_threads()
    _workspace(root, corpus, {name: section})
    try:
        run_training(
            name, section, root / "data" / "prepared", root / "models", root / "predictions",
            root / "metrics", progress=False,
        )  # fmt: skip
    finally:
        torch.set_num_threads(threads)
    return root


def _runs(root: Path) -> list:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{root / 'mlflow.db'}")
    exp = client.get_experiment_by_name("two-processes")
    return client.search_runs([exp.experiment_id]) if exp else []


def _weights(model_dir: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(model_dir / "model.safetensors"))


def _assert_same_model(a: Path, b: Path) -> None:
    wa, wb = _weights(a), _weights(b)
    assert wa.keys() == wb.keys()
    for k in wa:
        np.testing.assert_allclose(wa[k].numpy(), wb[k].numpy(), atol=1e-4, err_msg=k)


def _assert_same_predictions(two: Path, one: Path, name: str, heldout_uuids, test_uuids) -> None:
    for split, uuids in (("heldout", heldout_uuids), ("test", test_uuids)):
        got = pd.read_parquet(two / "predictions" / name / f"{split}.parquet")
        ref = pd.read_parquet(one / "predictions" / name / f"{split}.parquet")
        assert got["uuid"].tolist() == list(uuids)  # every row once, in order
        assert got["uuid"].is_unique
        np.testing.assert_allclose(got["prob"].to_numpy(), ref["prob"].to_numpy(), atol=1e-5)


LAUNCHERS = {
    "baseline": None,  # processes: 2 -> the stage restarts itself under torchrun
    "topline": [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu",
                "--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no",
                "--dynamo_backend", "no"],
}  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("name", ["baseline", "topline"])
def test_two_processes_train_as_one(tmp_path, tiny_corpus, backbone, name):
    section = _section(backbone, name, processes=2)
    root = _workspace(tmp_path / "two", tiny_corpus, {name: section})
    proc, log = _run_stage(root, name, LAUNCHERS[name])
    assert proc.returncode == 0, log
    assert "2 process(es) on cpu" in log
    one = _reference(tmp_path / "one", tiny_corpus, name, {**section, "processes": 1})

    _assert_same_model(root / "models" / name, one / "models" / name)
    _assert_same_predictions(
        root, one, name, tiny_corpus["valid"]["uuid"], tiny_corpus["test"]["uuid"]
    )
    history = pd.read_csv(root / "metrics" / name / "history.csv")
    reference = pd.read_csv(one / "metrics" / name / "history.csv")
    assert history["epoch"].tolist() == [1, 2]
    np.testing.assert_allclose(history.to_numpy(), reference.to_numpy(), atol=1e-5)
    runs = _runs(root)
    assert [r.info.status for r in runs] == ["FINISHED"]  # one run, opened by the main process
    assert runs[0].data.params[f"{name}.processes"] == "2"
    assert not (root / "models" / f"{name}.ckpt").exists()


@pytest.mark.slow
def test_two_processes_kfold(tmp_path, tiny_corpus, backbone):
    section = _section(backbone, "baseline", processes=2, kfold=True, epochs=1)
    root = _workspace(tmp_path / "two", tiny_corpus, {"baseline": section})
    stale = root / "models" / "baseline" / "fold_9"
    stale.mkdir(parents=True)
    proc, log = _run_stage(root, "baseline")
    assert proc.returncode == 0, log
    one = _reference(tmp_path / "one", tiny_corpus, "baseline", {**section, "processes": 1})

    folds = sorted(p.name for p in (root / "models" / "baseline").iterdir())
    assert folds == ["fold_0", "fold_1", "fold_2", "fold_3"]
    for fold in folds:
        _assert_same_model(root / "models" / "baseline" / fold, one / "models" / "baseline" / fold)
    labelled = pd.concat([tiny_corpus["train"], tiny_corpus["valid"]], ignore_index=True)
    _assert_same_predictions(root, one, "baseline", labelled["uuid"], tiny_corpus["test"]["uuid"])
    assert len(_runs(root)) == 1


@pytest.mark.slow
def test_two_processes_resume(tmp_path, tiny_corpus, backbone):
    section = _section(backbone, "baseline", processes=2, epochs=3)
    root = _workspace(tmp_path / "two", tiny_corpus, {"baseline": section})
    params_file = root / "params.yaml"
    params = yaml.safe_load(params_file.read_text())
    params["baseline"]["max_epochs_this_run"] = 1  # stops (resumably) after one epoch
    params_file.write_text(yaml.safe_dump(params, sort_keys=False))
    proc, log = _run_stage(root, "baseline")
    assert proc.returncode == 1, log
    ckpt = root / "models" / "baseline.ckpt"
    assert sorted(p.name for p in ckpt.iterdir()) == ["epoch-0001"]
    assert not (root / "predictions").exists()

    del params["baseline"]["max_epochs_this_run"]
    params_file.write_text(yaml.safe_dump(params, sort_keys=False))
    proc, log = _run_stage(root, "baseline")
    assert proc.returncode == 0, log
    assert "resuming from" in log and "(epoch 1 done)" in log
    one = _reference(tmp_path / "one", tiny_corpus, "baseline", {**section, "processes": 1})
    _assert_same_model(root / "models" / "baseline", one / "models" / "baseline")
    history = pd.read_csv(root / "metrics" / "baseline" / "history.csv")
    assert history["epoch"].tolist() == [1, 2, 3]
    runs = _runs(root)  # one per stage run (the newest first), from the main process only
    assert len(runs) == 2 and runs[0].info.status == "FINISHED"
    assert not ckpt.exists()
