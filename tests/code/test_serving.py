"""The registered model, end to end: logged as code with its threshold and template (nothing
pickled), loaded from its artifacts alone in a fresh process, and served by
``mlflow models serve`` from ``models:/<name>@champion`` answering paper rows exactly like
``papercls predict`` on the same rows. A tiny random BERT and a temporary SQLite registry."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import yaml

from papercls.data.text import build_texts
from papercls.inference.encoder import predict_dir_proba
from papercls.inference.stream import predict_csv
from papercls.tracking import CHAMPION_ALIAS, register_candidate, register_tuned, stage_run
from papercls.tracking.registry import FORMAT_TAG, promote_if_better
from papercls.tracking.serving import FORMAT, INPUT_COLUMNS

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
NAME = "paper-classifier"
TEMPLATE = "{title} {sep} {Keywords} {sep} {abstract}"
PICKLE_SUFFIXES = {".pkl", ".pickle", ".cloudpickle", ".joblib", ".dill"}


@pytest.fixture(scope="module")
def tiny_classifier_dir(tmp_path_factory, tiny_bert_dir, tiny_corpus) -> Path:
    """A save_pretrained BertForSequenceClassification (tiny, random) with its tokenizer. The
    random head would give every row about the same probability; this one reads the direction
    in which the corpus' pooled outputs vary most, so that probabilities spread over (0, 1)."""
    import torch
    from transformers import AutoTokenizer, BertForSequenceClassification, set_seed

    set_seed(0)
    d = tmp_path_factory.mktemp("tiny_cls")
    tokenizer = AutoTokenizer.from_pretrained(tiny_bert_dir)
    model = BertForSequenceClassification.from_pretrained(tiny_bert_dir, num_labels=2).eval()
    texts = tiny_corpus["test"]["text"].tolist() + tiny_corpus["valid"]["text"].tolist()
    with torch.no_grad():
        pooled = model.bert(**tokenizer(texts, padding=True, return_tensors="pt")).pooler_output
        centred = pooled - pooled.mean(0)
        direction = torch.linalg.svd(centred, full_matrices=False).Vh[0]
        w = direction * (3.0 / (centred @ direction).std())
        model.classifier.weight.copy_(torch.stack([torch.zeros_like(w), w]))
        model.classifier.bias.copy_(torch.tensor([0.0, -float(pooled.mean(0) @ w)]))
    model.save_pretrained(d)
    tokenizer.save_pretrained(d)
    return d


@pytest.fixture(scope="module")
def papers_csv(tmp_path_factory, tiny_corpus) -> Path:
    """12 test-format rows (uuid,title,author,abstract,Keywords); one without keywords."""
    parts = tiny_corpus["test"]["text"].str.split(r" \[SEP\] ", regex=True).head(12)
    df = pd.DataFrame(
        {
            "uuid": tiny_corpus["test"]["uuid"].head(12),
            "title": parts.str[0],
            "author": ["A. Author, B. Author"] * 12,
            "abstract": parts.str[2],
            "Keywords": parts.str[1],
        }
    )
    df.loc[3, "Keywords"] = ""
    path = tmp_path_factory.mktemp("papers") / "papers.csv"
    df.to_csv(path, index=False)
    return path


def _rows(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def expected(tiny_classifier_dir, papers_csv, tmp_path_factory) -> SimpleNamespace:
    """``papercls predict`` on the rows, at a threshold in the widest gap between the middle
    probabilities (so both labels occur and no probability sits near it)."""
    out = tmp_path_factory.mktemp("expected") / "out.csv"
    predict_csv(tiny_classifier_dir, papers_csv, out, template=TEMPLATE, with_prob=True)
    probs = np.sort(pd.read_csv(out, dtype={"uuid": str})["prob"].to_numpy())
    gaps = np.diff(probs)[3:-3]
    i = 3 + int(np.argmax(gaps))
    assert gaps.max() > 1e-4, probs
    threshold = float((probs[i] + probs[i + 1]) / 2)
    predict_csv(
        tiny_classifier_dir, papers_csv, out, threshold=threshold, template=TEMPLATE, with_prob=True
    )
    frame = pd.read_csv(out, dtype={"uuid": str}, keep_default_na=False)
    assert 0 < frame["label"].sum() < len(frame)
    return SimpleNamespace(threshold=threshold, frame=frame)


@pytest.fixture(scope="module")
def registry(tmp_path_factory, tiny_classifier_dir, expected) -> SimpleNamespace:
    """A temporary SQLite registry where the tune_thresholds registration made the tiny model
    the champion of ``NAME`` (tuned threshold, preprocess template)."""
    root = tmp_path_factory.mktemp("registry")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        mp.setenv("DVC_ROOT", str(root))
        mp.delenv("DVC_EXP_NAME", raising=False)
        mp.chdir(root)
        with stage_run("tune_thresholds", {"tracking": {"experiment": "serving"}}) as run:
            line = register_tuned(
                run, tiny_classifier_dir, NAME, 0.9, threshold=expected.threshold, template=TEMPLATE
            )
        yield SimpleNamespace(uri=uri, root=root, line=line)


def test_registered_model_is_code_with_its_threshold_and_template(registry, expected):
    import mlflow
    from mlflow import MlflowClient

    assert "champion: True" in registry.line
    client = MlflowClient(tracking_uri=registry.uri)
    version = client.get_model_version_by_alias(NAME, CHAMPION_ALIAS)
    assert version.tags[FORMAT_TAG] == FORMAT
    assert float(version.tags["threshold"]) == expected.threshold
    local = Path(
        mlflow.artifacts.download_artifacts(
            f"models:/{NAME}@{CHAMPION_ALIAS}", tracking_uri=registry.uri
        )
    )
    conf = yaml.safe_load((local / "MLmodel").read_text())["flavors"]["python_function"]
    assert conf["loader_module"] == "mlflow.pyfunc.loaders.code_model"
    assert "python_model" not in conf  # no pickled PythonModel object
    assert (local / Path(conf["model_code_path"]).name).is_file()
    assert not Path(conf["model_code_path"]).is_relative_to(ROOT)  # no checkout path
    assert conf["config"] == {  # the model_config
        "threshold": expected.threshold,
        "template": TEMPLATE,
        "max_length": None,
        "batch_size": 64,
        "max_rows": 10_000,
    }
    assert (local / conf["code"] / "papercls" / "data" / "text.py").is_file()
    files = [p for p in local.rglob("*") if p.is_file()]
    assert not [p for p in files if p.suffix in PICKLE_SUFFIXES]
    # no pickle stream anywhere (protocol 2+ starts with 0x80 and the protocol number)
    pickled = [
        p
        for p in files
        if p.suffix != ".safetensors"
        and p.read_bytes()[:2] in {b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05"}
    ]
    assert pickled == []
    assert list((local / "artifacts").rglob("model.safetensors"))
    example = json.loads((local / "input_example.json").read_text())
    assert set(example["columns"]) == {"title", "abstract", "Keywords", "author"}
    signature = yaml.safe_load((local / "MLmodel").read_text())["signature"]
    assert [c["name"] for c in json.loads(signature["inputs"])] == list(INPUT_COLUMNS)
    assert [c["name"] for c in json.loads(signature["outputs"])] == ["prob", "label"]


def test_model_loads_from_its_artifacts_alone(registry, papers_csv, expected, tmp_path):
    """A fresh interpreter outside the repository, without PYTHONPATH: ``papercls`` comes from
    the model's own code directory."""
    script = textwrap.dedent(
        f"""
        import json, sys
        import mlflow.pyfunc, pandas as pd
        model = mlflow.pyfunc.load_model("models:/{NAME}@{CHAMPION_ALIAS}")
        rows = pd.read_csv({str(papers_csv)!r}, dtype=str, keep_default_na=False)
        out = model.predict(rows)
        import papercls
        json.dump({{"prob": out["prob"].tolist(), "label": out["label"].tolist(),
                   "papercls": papercls.__file__}}, sys.stdout)
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["MLFLOW_TRACKING_URI"] = registry.uri
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert Path(got["papercls"]).parts[-3:] == ("code", "papercls", "__init__.py")
    assert not Path(got["papercls"]).is_relative_to(ROOT)
    assert got["label"] == expected.frame["label"].tolist()
    np.testing.assert_allclose(got["prob"], expected.frame["prob"], rtol=0, atol=1e-6)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _post(url: str, payload: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        url + "/invocations",
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def _wait_for_ping(url: str, proc: subprocess.Popen, log: Path, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url + "/ping", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        if proc.poll() is not None:
            pytest.fail(f"mlflow models serve exited {proc.returncode}:\n{log.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"no /ping answer after {timeout} s:\n{log.read_text()[-3000:]}")
        time.sleep(1)


def test_served_champion_answers_like_papercls_predict(
    registry, papers_csv, expected, tiny_classifier_dir, tmp_path
):
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["MLFLOW_TRACKING_URI"] = registry.uri
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mlflow",
                "models",
                "serve",
                "-m",
                f"models:/{NAME}@{CHAMPION_ALIAS}",
                "--env-manager",
                "local",
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
            ],  # fmt: skip
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped below with its workers
        )
    try:
        _wait_for_ping(url, proc, log)
        rows = _rows(papers_csv)  # uuid too: columns the model does not take are ignored
        status, body = _post(url, {"dataframe_split": rows.to_dict(orient="split", index=False)})
        assert status == 200, body
        got = pd.DataFrame(body["predictions"])
        assert got.columns.tolist() == ["prob", "label"]
        assert got["label"].tolist() == expected.frame["label"].tolist()
        np.testing.assert_allclose(got["prob"], expected.frame["prob"], rtol=0, atol=1e-6)

        texts = build_texts(rows, TEMPLATE)
        status, body = _post(url, {"dataframe_records": [{"text": t} for t in texts]})
        assert status == 200, body
        want = predict_dir_proba(tiny_classifier_dir, texts, device="cpu")
        np.testing.assert_allclose(pd.DataFrame(body["predictions"])["prob"], want, atol=1e-6)

        bad = rows.head(3).copy()
        bad.loc[1, ["title", "abstract"]] = ""
        status, body = _post(url, {"dataframe_records": bad.to_dict(orient="records")})
        assert status == 400, body
        assert "row 2, column 'title': both title and abstract are empty" in body["message"]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)


def test_a_champion_in_the_old_pickled_format_is_replaced(registry, tiny_classifier_dir):
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=registry.uri)
    name = "legacy-format"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", registry.uri)
        mp.chdir(registry.root)
        with stage_run("tune_thresholds", {"tracking": {"experiment": "serving"}}) as run:
            v1 = register_candidate(run, tiny_classifier_dir, name, 0.9, template=TEMPLATE)
            assert promote_if_better(client, name, v1, 0.9)
            client.delete_model_version_tag(name, v1, FORMAT_TAG)  # as logged before
            v2 = register_candidate(run, tiny_classifier_dir, name, 0.5, template=TEMPLATE)
            assert promote_if_better(client, name, v2, 0.5)  # worse F1, but servable
            v3 = register_candidate(run, tiny_classifier_dir, name, 0.4, template=TEMPLATE)
            assert not promote_if_better(client, name, v3, 0.4)  # same format: F1 decides
    assert str(client.get_model_version_by_alias(name, CHAMPION_ALIAS).version) == v2
