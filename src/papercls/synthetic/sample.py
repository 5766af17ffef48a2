"""Deterministic generator of a realistic synthetic labelled corpus.

The corpus mimics the challenge's CSV files: ``uuid,title,author,abstract,Keywords,label``
for training (label 1 = medical paper, 0 = not) and the same columns without ``label`` for
the test file.

It is built to be learnable but not trivially separable:

* topics come in pairs that share the *method* and differ in the *application*
  (tumour segmentation vs road-scene segmentation, epidemiology vs economics, ...), so both
  classes share most of their vocabulary;
* generic method/result sentences appear in both classes;
* for a fraction of papers the domain cue is weak (one, often rare, word in the abstract)
  or absent;
* some non-medical papers use medical-sounding words ("virus" in computer security,
  "fault diagnosis" of machines, "structural health monitoring", plant pathogens), and some
  medical papers borrow engineering vocabulary;
* a few percent of the labels are flipped.

Everything is drawn from seeded ``random.Random`` instances (never global state), so the same
seed and sizes give byte-identical CSV files (independent of ``PYTHONHASHSEED``). Per-row
work is small: 100,000 rows take about 9 s of CPU on a slow shared core, ~3 s on a fast one.

``python -m papercls.synthetic.sample --out data/sample`` regenerates the bundled files.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import uuid
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from papercls.data.io import atomic_path

__all__ = ["TEST_COLUMNS", "TRAIN_COLUMNS", "generate", "main", "write_sample"]

TRAIN_COLUMNS: tuple[str, ...] = ("uuid", "title", "author", "abstract", "Keywords", "label")
TEST_COLUMNS: tuple[str, ...] = TRAIN_COLUMNS[:-1]

DEFAULT_SEED = 20240601
MAX_ABSTRACT_CHARS = 3800

# Shares of rows by strength of the domain cue.
_MODES: tuple[str, ...] = ("strong", "medium", "weak", "none")
_MODE_WEIGHTS: tuple[float, ...] = (0.64, 0.20, 0.11, 0.05)
_P_ONE_SENTENCE = 0.03  # abstracts made of a single sentence
_P_EMPTY_KEYWORDS = 0.15
_P_REPEATED_AUTHORS = 0.30
_P_CONFOUNDER = 0.12  # cross-domain sentence ("medical" words in non-medical papers, ...)
_LENGTH_MEDIAN = 760.0  # target abstract length (characters), log-normal
_LENGTH_SIGMA = 0.62

# --------------------------------------------------------------------------------------
# Vocabulary: synthetic/sample_vocab.json, shipped inside the package
# --------------------------------------------------------------------------------------
#
# "pairs" lists the topic pairs: a shared method side ("method", "task", "metric", "kw",
# "sents") and two applications, "med" (label 1) and "non" (label 0). Each application lists
# slot fillers for the shared templates, rare single-word cues ("cue"), keywords and its own
# sentences. "domain_templates" are shared by every topic and both classes (domain words only
# enter through slots); "weak_templates" carry one (often rare) domain word;
# "confounders_non" / "confounders_med" are cross-domain sentences (medical words in
# non-medical papers and the reverse); the name lists mix ASCII, accented Latin and CJK so
# that encodings get exercised. "numeric" describes the number slots (see _numeric_slot).

VOCAB_RESOURCE = "synthetic/sample_vocab.json"
_VOCAB_KEYS = frozenset(
    "adj condition pairs domain_templates domain_intros generic_intros generic_method "
    "generic_results conclusions weak_templates confounders_non confounders_med domain_titles "
    "generic_titles first_names last_names cjk_names numeric".split()
)


def _load_vocab() -> dict:
    """Read the vocabulary tables that ship with the package (once, at import)."""
    resource = resources.files("papercls").joinpath(VOCAB_RESOURCE)
    vocab = json.loads(resource.read_text(encoding="utf-8"))
    missing = sorted(_VOCAB_KEYS - vocab.keys())
    if missing:
        raise KeyError(f"papercls/{VOCAB_RESOURCE}: missing tables {missing}")
    return vocab


_V = _load_vocab()


def _pick(r: Callable[[], float], seq: Sequence):
    """Uniform choice driven by ``r = rng.random`` (much cheaper than ``rng.choice``)."""
    return seq[int(r() * len(seq))]


def _int(r: Callable[[], float], lo: int, hi: int) -> int:
    """Uniform integer in ``[lo, hi]``."""
    return lo + int(r() * (hi - lo + 1))


def _numeric_slot(name: str, spec: list) -> Callable[[Callable[[], float]], str]:
    """One number slot (a fresh value at every use) from its ``[kind, *args]`` spec:

    ``["int", prefix, lo, span]`` -> ``prefix + str(lo + int(r() * span))``;
    ``["float", a, b, decimals]`` -> ``a + b * r()`` with ``decimals`` decimals;
    ``["choice", values]`` -> one of ``values``;
    ``["pow10", a, b]`` -> ``int(10 ** (a + b * r()))``.
    """
    kind, *args = spec
    if kind == "int":
        prefix, lo, span = args
        return lambda r: f"{prefix}{lo + int(r() * span)}"
    if kind == "float":
        a, b, decimals = args
        return lambda r: f"{a + b * r():.{decimals}f}"
    if kind == "choice":
        values = tuple(str(v) for v in args[0])
        return lambda r: values[int(r() * len(values))]
    if kind == "pow10":
        a, b = args
        return lambda r: str(int(10 ** (a + b * r())))
    raise ValueError(f"papercls/{VOCAB_RESOURCE}: numeric slot {name!r}: unknown kind {kind!r}")


_NUMERIC: dict[str, Callable[[Callable[[], float]], str]] = {
    name: _numeric_slot(name, spec) for name, spec in _V["numeric"].items()
}
_GLOBAL_SLOTS: dict[str, list[str]] = {"adj": _V["adj"], "condition": _V["condition"]}


class _Slots(dict):
    """Lazy slot values for ``str.format_map``: topic/domain words fixed per row,
    numbers fresh at every use, ``*_cap`` keys capitalised."""

    __slots__ = ("_r", "_pair", "_dom")

    def __init__(self, r: Callable[[], float], pair: dict, dom: dict) -> None:
        super().__init__()
        self._r = r
        self._pair = pair
        self._dom = dom

    def __missing__(self, key: str) -> str:
        gen = _NUMERIC.get(key)
        if gen is not None:
            return gen(self._r)
        if key.endswith("_cap"):
            value = self[key[:-4].lower()]
            return value[:1].upper() + value[1:]
        r = self._r
        if key == "a_adj":
            adj = self["adj"]
            value = ("an " if adj[0] in "aeiou" else "a ") + adj
        elif key == "method2":
            methods = self._pair["method"]
            first = methods.index(self["method"])
            value = methods[(first + 1 + int(r() * (len(methods) - 1))) % len(methods)]
        elif key in self._dom:
            value = _pick(r, self._dom[key])
        elif key in self._pair:
            value = _pick(r, self._pair[key])
        else:
            value = _pick(r, _GLOBAL_SLOTS[key])  # KeyError for an unknown slot
        self[key] = value
        return value


def _cum(weights: Sequence[float]) -> list[float]:
    total = sum(weights)
    out, acc = [], 0.0
    for w in weights:
        acc += w / total
        out.append(acc)
    out[-1] = 1.0
    return out


def _bucket(cum: Sequence[float], u: float) -> int:
    i = 0
    while cum[i] < u:
        i += 1
    return i


def _sample(r: Callable[[], float], seq: Sequence, k: int) -> list:
    """``k`` distinct items of ``seq`` in random order (all of them if ``k >= len(seq)``)."""
    pool = list(seq)
    return [pool.pop(int(r() * len(pool))) for _ in range(min(k, len(pool)))]


_MODE_CUM = _cum(_MODE_WEIGHTS)
_PAIR_CUM = _cum([1.0] * len(_V["pairs"]))
_LOG_MEDIAN = math.log(_LENGTH_MEDIAN)
for _pair in _V["pairs"]:  # sentence pools, built once
    _pair["method_pool"] = _pair["sents"] + _V["generic_method"]
    for _side in ("med", "non"):
        _pair[_side]["domain_pool"] = _pair[_side]["sents"] + _V["domain_templates"]
del _pair, _side
_ONE_SENTENCE_GENERIC = _V["generic_intros"] + _V["generic_method"]


def _authors(r: Callable[[], float]) -> str:
    k = min(1 + int(-3.2 * math.log(1.0 - r())), 14)  # geometric-like, mean ~3.7
    first, last = _V["first_names"], _V["last_names"]
    names = []
    for _ in range(k):
        u = r()
        if u < 0.12:
            names.append(_pick(r, _V["cjk_names"]))
        elif u < 0.30:
            names.append(f"{_pick(r, first)[0]}. {_pick(r, last)}")
        else:
            names.append(f"{_pick(r, first)} {_pick(r, last)}")
    if r() < _P_REPEATED_AUTHORS:
        names = names + names  # as in the real files: "A, B, C, A, B, C"
    return ", ".join(names)


def _keywords(r: Callable[[], float], pair: dict, dom: dict, mode: str) -> str:
    if r() < _P_EMPTY_KEYWORDS:
        return ""
    if mode == "strong":
        n_dom = _int(r, 1, 3)
    elif mode == "medium":
        n_dom = _int(r, 0, 1)
    else:
        n_dom = 0
    kws = _sample(r, pair["kw"], 1 + int(r() * 3))
    for kw in _sample(r, dom["kw"], n_dom):  # domain keywords at random positions
        kws.insert(int(r() * (len(kws) + 1)), kw)
    return ", ".join(kws)


def _abstract(
    rng: random.Random, slots: _Slots, pair: dict, dom: dict, label: int, mode: str
) -> str:
    r = rng.random
    fmt = str.format_map
    if r() < _P_ONE_SENTENCE:
        if mode in ("strong", "medium"):
            return fmt(_pick(r, dom["domain_pool"]), slots)
        if mode == "weak":
            return fmt(_pick(r, _V["weak_templates"]), slots)
        return fmt(_pick(r, _ONE_SENTENCE_GENERIC), slots)

    target = math.exp(rng.gauss(_LOG_MEDIAN, _LENGTH_SIGMA))

    # Sentences that must appear somewhere in the body (placed after filling).
    inserts: list[str] = []
    if mode == "medium":
        k = 1 if r() < 0.6 else 2
        inserts += [fmt(s, slots) for s in _sample(r, dom["domain_pool"], k)]
    elif mode == "weak":
        inserts.append(fmt(_pick(r, _V["weak_templates"]), slots))
    if r() < _P_CONFOUNDER:
        inserts.append(_pick(r, _V["confounders_med"] if label else _V["confounders_non"]))
    reserved = sum(len(s) + 1 for s in inserts)

    # Pools are copied and drawn from without replacement, one sentence at a time.
    if mode == "strong":
        domain_pool = list(dom["domain_pool"])
        intro_template = _pick(r, _V["domain_intros"])
        domain_pool.remove(intro_template)  # the intros are domain templates too
        intro = fmt(intro_template, slots)
        pools = [list(pair["method_pool"]), list(_V["generic_results"]), domain_pool]
        cum: tuple[float, ...] = (0.33, 0.6, 1.0)
    else:
        intro = fmt(_pick(r, _V["generic_intros"]), slots)
        pools = [list(pair["method_pool"]), list(_V["generic_results"])]
        cum = (0.55, 1.0)
    out = [intro]
    length = len(intro) + reserved
    while length < target:
        pool = pools[_bucket(cum, r())]
        if not pool:
            pool = next((p for p in pools if p), None)
            if pool is None:
                break
        sent = fmt(pool.pop(int(r() * len(pool))), slots)
        if length + len(sent) + 1 > MAX_ABSTRACT_CHARS:
            break
        out.append(sent)
        length += len(sent) + 1
    if r() < 0.5:
        sent = fmt(_pick(r, _V["conclusions"]), slots)
        if length + len(sent) + 1 <= MAX_ABSTRACT_CHARS:
            out.append(sent)
    for sent in inserts:
        out.insert(1 + int(r() * len(out)), sent)
    return " ".join(out)


def _row(rng: random.Random) -> tuple[str, str, str, str, int]:
    r = rng.random
    pair = _V["pairs"][_bucket(_PAIR_CUM, r())]
    label = 1 if r() < pair["prior"] else 0
    dom = pair["med"] if label else pair["non"]
    mode = _MODES[_bucket(_MODE_CUM, r())]
    slots = _Slots(r, pair, dom)
    slots["method"] = _pick(r, pair["method"])
    if mode == "strong" or (mode == "medium" and r() < 0.5):
        title = _pick(r, _V["domain_titles"]).format_map(slots)
    else:
        title = _pick(r, _V["generic_titles"]).format_map(slots)
    abstract = _abstract(rng, slots, pair, dom, label, mode)
    return title, _authors(r), abstract, _keywords(r, pair, dom, mode), label


def _rng(seed: int, part: str) -> random.Random:
    # str seeds are hashed with SHA-512 by `random`: stable across runs and platforms.
    return random.Random(f"papercls.sample/{int(seed)}/{part}")  # stream names kept stable


def generate(n: int, seed: int = 0, labelled: bool = True, noise: float = 0.03) -> pd.DataFrame:
    """Return ``n`` synthetic papers.

    With ``labelled=True`` the columns are :data:`TRAIN_COLUMNS` and a fraction ``noise``
    of the labels (in expectation) is flipped; otherwise they are :data:`TEST_COLUMNS` and,
    like the real test file, one or two abstracts are empty (n >= 100). Train and test
    frames drawn with the same seed come from different random streams (different uuids).
    The texts do not depend on ``noise``: only the labels change.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if not 0.0 <= noise <= 1.0:
        raise ValueError(f"noise must be in [0, 1], got {noise}")
    part = "train" if labelled else "test"
    rng = _rng(seed, part)
    titles: list[str] = []
    authors: list[str] = []
    abstracts: list[str] = []
    keywords: list[str] = []
    labels = np.empty(n, dtype=np.int64)
    for i in range(n):
        t, a, ab, kw, y = _row(rng)
        titles.append(t)
        authors.append(a)
        abstracts.append(ab)
        keywords.append(kw)
        labels[i] = y

    id_rng = _rng(seed, part + "/uuid")
    uuids: list[str] = []
    seen: set[str] = set()
    while len(uuids) < n:
        u = str(uuid.UUID(int=id_rng.getrandbits(128), version=4))
        if u not in seen:
            seen.add(u)
            uuids.append(u)

    if labelled:
        noise_rng = np.random.default_rng(
            np.frombuffer(_rng(seed, part + "/noise").randbytes(16), dtype=np.uint32)
        )
        flip = noise_rng.random(n) < noise
        labels = np.where(flip, 1 - labels, labels).astype(np.int64)
    else:
        n_empty = min(2, n // 100)
        for i in _rng(seed, part + "/empty").sample(range(n), n_empty):
            abstracts[i] = ""

    data = {
        "uuid": uuids,
        "title": titles,
        "author": authors,
        "abstract": abstracts,
        "Keywords": keywords,
    }
    if labelled:
        data["label"] = labels
    return pd.DataFrame(data, columns=list(TRAIN_COLUMNS if labelled else TEST_COLUMNS))


def _write_csv_atomic(df: pd.DataFrame, path: Path) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="") as fh:
            df.to_csv(fh, index=False, lineterminator="\n")
        os.chmod(tmp, 0o644)  # mkstemp creates 0600 files


def write_sample(
    out_dir: Path, n_train: int = 1500, n_test: int = 500, seed: int = DEFAULT_SEED
) -> tuple[Path, Path]:
    """Write ``train.csv`` (labelled) and ``test.csv`` (unlabelled) under ``out_dir``.

    Files are written atomically (temp file in the same folder, then ``os.replace``) and are
    byte-identical for the same arguments. Returns ``(train_path, test_path)``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    train_path = out_dir / "train.csv"
    test_path = out_dir / "test.csv"
    _write_csv_atomic(generate(n_train, seed=seed, labelled=True), train_path)
    _write_csv_atomic(generate(n_test, seed=seed, labelled=False), test_path)
    return train_path, test_path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m papercls.synthetic.sample",
        description="Write a deterministic synthetic corpus (train.csv, test.csv).",
    )
    parser.add_argument(
        "--out", type=Path, default=Path("data/sample"), help="output folder (default: data/sample)"
    )
    parser.add_argument("--n-train", type=int, default=1500, help="labelled rows (1500)")
    parser.add_argument("--n-test", type=int, default=500, help="unlabelled rows (500)")
    parser.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help=f"random seed ({DEFAULT_SEED})"
    )
    args = parser.parse_args(argv)
    if args.n_train < 0 or args.n_test < 0:
        parser.error("--n-train and --n-test must be >= 0")
    train_path, test_path = write_sample(args.out, args.n_train, args.n_test, args.seed)
    print(f"wrote {train_path} ({args.n_train} rows) and {test_path} ({args.n_test} rows)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
