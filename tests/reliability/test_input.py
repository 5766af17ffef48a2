"""Bad and unusual input, beyond tests/data/test_validation.py: optional Keywords end to end,
the ``papercls validate`` command (exit code 2, message naming file/row/column, nothing
written), and characters that must not be taken for line ends."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from papercls.cli import main as cli_main
from papercls.data.preprocess import run_preprocess
from papercls.data.text import MAX_FIELD_CHARS

CFG = {
    "text_template": "{title} {sep} {Keywords} {sep} {abstract}",
    "valid_size": 0.25,
    "folds": 2,
    "seed": 1,
}
TRAIN_HEADER = "uuid,title,author,abstract,Keywords,label\n"


def _train_rows(n: int = 8, keywords: bool = True) -> list[str]:
    kw = lambda i: f",kw{i}" if keywords else ""  # noqa: E731
    return [
        f'u{i},Title {i},"Ann Lee, Bo Li",Abstract number {i} about cells.{kw(i)},{i % 2}\n'
        for i in range(n)
    ]


def _write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def _params(d: Path) -> str:
    """A params file whose preprocess split (CFG) the 8-row files of this module fit."""
    return str(_write(d / "params.yaml", yaml.safe_dump({"preprocess": CFG})))


def _files(d: Path) -> set[str]:
    return {str(p.relative_to(d)) for p in d.rglob("*")}


# --------------------------------------------------------------------------- Keywords


@pytest.mark.parametrize("train_kw", [True, False], ids=["train-kw", "train-no-kw"])
@pytest.mark.parametrize("test_kw", [True, False], ids=["test-kw", "test-no-kw"])
def test_keywords_column_optional_end_to_end(tmp_path: Path, train_kw: bool, test_kw: bool):
    header = TRAIN_HEADER if train_kw else TRAIN_HEADER.replace("Keywords,", "")
    train = _write(tmp_path / "train.csv", header + "".join(_train_rows(keywords=train_kw)))
    test_header = "uuid,title,author,abstract" + (",Keywords" if test_kw else "")
    test_rows = [f"t{i},Test title {i},X Y,Test abstract {i}." for i in range(3)]
    if test_kw:
        test_rows = [r + f",tk{i}" for i, r in enumerate(test_rows)]
    test = _write(tmp_path / "test.csv", "\n".join([test_header, *test_rows]) + "\n")

    out = tmp_path / "prepared"
    meta = run_preprocess(train, test, out, CFG)
    assert (meta["n_train"] + meta["n_valid"], meta["n_test"]) == (8, 3)
    assert sorted(p.name for p in out.iterdir()) == [
        "meta.json",
        "test.parquet",
        "train.parquet",
        "valid.parquet",
    ]
    labelled = pd.concat([pd.read_parquet(out / f) for f in ("train.parquet", "valid.parquet")])
    text = labelled.set_index("uuid")["text"]
    if train_kw:
        assert text["u3"] == "Title 3 [SEP] kw3 [SEP] Abstract number 3 about cells."
    else:  # the empty field drops out together with its separator
        assert text["u3"] == "Title 3 [SEP] Abstract number 3 about cells."
    te = pd.read_parquet(out / "test.parquet")
    assert te["uuid"].tolist() == ["t0", "t1", "t2"]  # input order kept
    expected = (
        "Test title 1 [SEP] tk1 [SEP] Test abstract 1."
        if test_kw
        else ("Test title 1 [SEP] Test abstract 1.")
    )
    assert te["text"].iloc[1] == expected
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


# --------------------------------------------------------------------------- papercls validate

BAD_FILES = {
    # id: (content, --kind, row, column, words the message must contain)
    "missing-column": (
        "uuid,title,author,Keywords,label\nu1,t,a,k,1\n",
        "train",
        0,
        "abstract",
        ["missing required column"],
    ),
    "duplicate-uuid-test": (
        "uuid,title,author,abstract\nt1,a,b,c\nt2,d,e,f\nt1,g,h,i\n",
        "test",
        3,
        "uuid",
        ["duplicate uuid 't1'", "first seen at row 1"],
    ),
    "bad-label": (
        TRAIN_HEADER + "".join(_train_rows(3)) + "u9,T,A,B,k,yes\n",
        "train",
        4,
        "label",
        ["'yes' is not 0 or 1"],
    ),
    "wrong-delimiter": (
        (TRAIN_HEADER + "".join(_train_rows())).replace(",", ";"),
        "train",
        0,
        None,
        ["';'", "delimiter"],
    ),
    "ragged-row": (
        TRAIN_HEADER + "".join(_train_rows(4)) + "u4,only,three\n",
        "train",
        5,
        None,
        ["expected 6 fields, found 3"],
    ),
    "truncated": (
        TRAIN_HEADER + "".join(_train_rows(2)) + 'u9,"An unterminated title',
        "train",
        3,
        None,
        ["truncated"],
    ),
    "empty-text": (
        TRAIN_HEADER + "".join(_train_rows(2)) + "u9, ,A, ,k,1\n",
        "train",
        3,
        "title",
        ["both title and abstract are empty"],
    ),
    "not-utf8": (
        (TRAIN_HEADER + "".join(_train_rows())).replace("Ann", "J\xf6rg").encode("latin-1"),
        "train",
        None,
        None,
        ["not UTF-8", "line 2"],
    ),
    "column-case-train": (
        TRAIN_HEADER.replace("Keywords", "keywords") + "".join(_train_rows()),
        "train",
        0,
        "keywords",
        ["differs from the expected 'Keywords' only in case"],
    ),
    "column-case-test": (
        "uuid,title,Author,abstract\nt1,a,b,c\n",
        "test",
        0,
        "Author",
        ["expected 'author'"],
    ),
    "binary": (bytes(range(256)) * 4, "train", None, None, ["binary"]),
    "empty": ("", "train", None, None, ["empty"]),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_validate_cli_names_file_row_column(tmp_path: Path, capsys, case: str) -> None:
    content, kind, row, column, words = BAD_FILES[case]
    path = _write(tmp_path / f"{case}.csv", content)
    before = _files(tmp_path)
    rc = cli_main(["validate", str(path), "--kind", kind])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert err.startswith(f"error: file {path}"), err
    if row is not None:
        assert f"row {row}" in err, err
    if column is not None:
        assert f"column {column!r}" in err, err
    for word in words:
        assert word in err, err
    assert _files(tmp_path) == before, "validate must write nothing"


def test_validate_command_process_exit_code(tmp_path: Path) -> None:
    """The installed console script, as a user runs it: exit status 2 and one error line."""
    content, *_ = BAD_FILES["bad-label"]
    path = _write(tmp_path / "train.csv", content)
    exe = Path(sys.executable).parent / "papercls"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "papercls.cli"]
    proc = subprocess.run(
        [*cmd, "validate", str(path)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"error: file {path}, row 4, column 'label': label 'yes' is not 0 or 1"
    ]
    assert proc.stdout == ""
    ok_csv = _write(tmp_path / "ok.csv", TRAIN_HEADER + "".join(_train_rows()))
    ok = subprocess.run(
        [*cmd, "validate", str(ok_csv), "--params", _params(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ok.returncode == 0 and "8 rows ok" in ok.stdout


def test_validate_cli_infers_the_kind_from_the_header(tmp_path: Path, capsys) -> None:
    test_csv = _write(tmp_path / "test.csv", "uuid,title,author,abstract\nt1,a,b,c\nt2,d,e,f\n")
    assert cli_main(["validate", str(test_csv)]) == 0
    assert "2 rows ok (test file)" in capsys.readouterr().out
    train_csv = _write(tmp_path / "train.csv", TRAIN_HEADER + "".join(_train_rows()))
    assert cli_main(["validate", str(train_csv), "--params", _params(tmp_path)]) == 0
    assert "8 rows ok (6 train / 2 valid" in capsys.readouterr().out
    assert cli_main(["validate", str(test_csv), "--kind", "train"]) == 2
    assert "missing required column(s) ['label']" in capsys.readouterr().err


def test_validate_cli_accepts_huge_abstract_and_no_keywords(tmp_path: Path, capsys) -> None:
    rows = _train_rows(keywords=False)
    rows[0] = "u0,Title,A B," + "word " * 2_000_000 + ",0\n"  # 10 MB in one field
    path = _write(tmp_path / "big.csv", TRAIN_HEADER.replace("Keywords,", "") + "".join(rows))
    assert path.stat().st_size > 10_000_000
    assert cli_main(["validate", str(path), "--params", _params(tmp_path)]) == 0
    assert "8 rows ok" in capsys.readouterr().out
    meta = run_preprocess(
        path, _write(tmp_path / "t.csv", "uuid,title,abstract\nt,a,b\n"), tmp_path / "prepared", CFG
    )
    assert meta["n_test"] == 1
    labelled = pd.concat(
        [pd.read_parquet(tmp_path / "prepared" / f) for f in ("train.parquet", "valid.parquet")]
    )
    assert len(labelled.set_index("uuid").loc["u0", "text"]) <= MAX_FIELD_CHARS + 20


# --------------------------------------------------------------------------- line ends


@pytest.mark.parametrize(
    "char",
    ["\x0c", "\x0b", "\u2028", "\u2029", "\x85", "\x1c", "\x1e"],
    ids=["form-feed", "vtab", "line-sep", "para-sep", "nel", "fs", "rs"],
)
def test_unicode_line_breaks_inside_a_field_are_not_row_ends(tmp_path: Path, char: str):
    """pandas ends a record only at \\n / \\r: a form feed or U+2028 in an abstract (common in
    PDF-extracted text) is part of the field, not a ragged row. Regression: the row check split
    lines with str.splitlines() and rejected such valid files."""
    rows = _train_rows()
    rows[2] = f"u2,Title 2,A B,First part{char}second part,kw,0\n"
    rows[5] = f'u5,Title 5,A B,"Quoted{char}abstract",kw,1\n'
    path = _write(tmp_path / "train.csv", TRAIN_HEADER + "".join(rows))
    assert cli_main(["validate", str(path), "--params", _params(tmp_path)]) == 0
    run_preprocess(
        path, _write(tmp_path / "t.csv", "uuid,title,abstract\nt,a,b\n"), tmp_path / "prepared", CFG
    )
    labelled = pd.concat(
        [pd.read_parquet(tmp_path / "prepared" / f) for f in ("train.parquet", "valid.parquet")]
    ).set_index("uuid")
    assert len(labelled) == 8
    assert labelled.loc["u2", "text"].endswith("First part second part")
    assert labelled.loc["u5", "text"].endswith("Quoted abstract")


def test_row_numbers_count_records_not_lines(tmp_path: Path, capsys) -> None:
    """A quoted multi-line abstract (CRLF file) does not shift the row reported later on."""
    rows = _train_rows(6)
    rows[1] = 'u1,Title 1,A B,"Line one\r\nline two\r\nline three",kw,1\n'
    rows[4] = "u4,Title 4,A B,Abstract,kw,maybe\n"
    text = (TRAIN_HEADER + "".join(rows)).replace("\n", "\r\n").replace("\r\r\n", "\r\n")
    path = _write(tmp_path / "train.csv", text.encode())
    assert cli_main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "row 5, column 'label'" in err and "'maybe'" in err
