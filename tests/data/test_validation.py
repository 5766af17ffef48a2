"""Bad input gets a clear error naming file, row and column, and leaves no output."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from papercls.data.preprocess import run_preprocess
from papercls.data.text import MAX_FIELD_CHARS
from papercls.errors import InputError

HEADER = "uuid,title,author,abstract,Keywords,label\n"
CFG = {
    "text_template": "{title} {sep} {Keywords} {sep} {abstract}",
    "valid_size": 0.25,
    "folds": 2,
    "seed": 1,
}


def _rows(n: int = 8) -> list[str]:
    return [
        f'u{i},Title {i},"Ann Lee, Bo Li",Abstract number {i} about cells.,kw{i},{i % 2}\n'
        for i in range(n)
    ]


def _test_csv(tmp: Path) -> Path:
    p = tmp / "test.csv"
    p.write_text("uuid,title,author,abstract\nt1,A title,X Y,An abstract.\n", encoding="utf-8")
    return p


def _write(tmp: Path, text: str | bytes, name: str = "train.csv") -> Path:
    p = tmp / name
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text, encoding="utf-8")
    return p


def _expect_error(tmp: Path, train: Path, test: Path | None = None) -> InputError:
    out = tmp / "prepared"
    with pytest.raises(InputError) as info:
        run_preprocess(train, test or _test_csv(tmp), out, CFG)
    assert not out.exists(), "a failed preprocess must leave no output"
    assert [p.name for p in tmp.iterdir() if p.name.startswith(".")] == []
    return info.value


def test_good_input_is_accepted(tmp_path: Path) -> None:
    train = _write(tmp_path, HEADER + "".join(_rows()))
    meta = run_preprocess(train, _test_csv(tmp_path), tmp_path / "prepared", CFG)
    assert meta["n_train"] + meta["n_valid"] == 8
    assert meta["prior"] == 0.5
    tr = pd.read_parquet(tmp_path / "prepared" / "train.parquet")
    assert set(tr.columns) == {"uuid", "text", "label", "fold"}
    assert set(tr["fold"]) == {0, 1}


def test_missing_required_column(tmp_path: Path) -> None:
    train = _write(tmp_path, "uuid,title,author,Keywords,label\nu1,t,a,k,1\n")
    err = _expect_error(tmp_path, train)
    assert err.column == "abstract" and err.row == 0 and str(train) in str(err)


def test_duplicate_uuid_names_both_rows(tmp_path: Path) -> None:
    rows = _rows()
    rows[5] = rows[5].replace("u5,", "u2,", 1)
    err = _expect_error(tmp_path, _write(tmp_path, HEADER + "".join(rows)))
    assert (err.row, err.column) == (6, "uuid")
    assert "row 3" in err.message


@pytest.mark.parametrize("bad,expected", [("yes", "'yes'"), ("2", "'2'"), ("", "missing")])
def test_bad_label(tmp_path: Path, bad: str, expected: str) -> None:
    rows = _rows()
    rows[3] = rows[3][: rows[3].rfind(",") + 1] + bad + "\n"
    err = _expect_error(tmp_path, _write(tmp_path, HEADER + "".join(rows)))
    assert (err.row, err.column) == (4, "label")
    assert expected in err.message


def test_nan_label(tmp_path: Path) -> None:
    rows = _rows()
    rows[1] = rows[1][: rows[1].rfind(",") + 1] + "NaN\n"
    err = _expect_error(tmp_path, _write(tmp_path, HEADER + "".join(rows)))
    assert (err.row, err.column) == (2, "label")


def test_one_class_only(tmp_path: Path) -> None:
    rows = [r[: r.rfind(",") + 1] + "1\n" for r in _rows()]
    err = _expect_error(tmp_path, _write(tmp_path, HEADER + "".join(rows)))
    assert err.column == "label" and "one class" in err.message


@pytest.mark.parametrize("content", ["", "\n\n", HEADER])
def test_empty_file(tmp_path: Path, content: str) -> None:
    err = _expect_error(tmp_path, _write(tmp_path, content))
    assert "empty" in err.message or "no data rows" in err.message


def test_not_utf8(tmp_path: Path) -> None:
    text = (HEADER + "".join(_rows())).replace("Ann Lee", "Jos\xe9 Lee")
    err = _expect_error(tmp_path, _write(tmp_path, text.encode("latin-1")))
    assert "UTF-8" in err.message and "line 2" in err.message


def test_binary_file(tmp_path: Path) -> None:
    err = _expect_error(tmp_path, _write(tmp_path, bytes(range(256)) * 10))
    assert "binary" in err.message


def test_wrong_delimiter(tmp_path: Path) -> None:
    text = (HEADER + "".join(_rows())).replace(",", ";")
    err = _expect_error(tmp_path, _write(tmp_path, text))
    assert "';'" in err.message


def test_truncated_file(tmp_path: Path) -> None:
    text = HEADER + "".join(_rows()) + 'u99,"An unterminated title'
    err = _expect_error(tmp_path, _write(tmp_path, text))
    assert err.row == 9


def test_ragged_row(tmp_path: Path) -> None:
    rows = _rows()
    rows[4] = "u4,only,three\n"
    err = _expect_error(tmp_path, _write(tmp_path, HEADER + "".join(rows)))
    assert err.row == 5 and "fields" in err.message


def test_duplicate_uuid_in_test_file(tmp_path: Path) -> None:
    train = _write(tmp_path, HEADER + "".join(_rows()))
    test = _write(tmp_path, "uuid,title,author,abstract\nt1,a,b,c\nt1,d,e,f\n", "test.csv")
    err = _expect_error(tmp_path, train, test)
    assert err.path == str(test) and (err.row, err.column) == (2, "uuid")


def test_bom_and_missing_optional_values_are_accepted(tmp_path: Path) -> None:
    text = "uuid,title,author,abstract,label\n" + "".join(
        f"u{i},Title {i},,{'' if i == 2 else 'text'},{i % 2}\n" for i in range(6)
    )
    train = _write(tmp_path, b"\xef\xbb\xbf" + text.encode())
    test = _write(tmp_path, "uuid,title,abstract,Keywords\nt1,a,,k\n", "test.csv")
    meta = run_preprocess(train, test, tmp_path / "prepared", CFG)
    assert meta["n_test"] == 1
    tr = pd.concat(
        [pd.read_parquet(tmp_path / "prepared" / f) for f in ("train.parquet", "valid.parquet")]
    )
    assert sorted(tr["uuid"].tolist()) == [f"u{i}" for i in range(6)]
    assert tr.set_index("uuid").loc["u2", "text"] == "Title 2"


def test_huge_abstract_is_handled(tmp_path: Path) -> None:
    rows = _rows()
    big = "word " * 2_000_000  # 10 MB in one field
    rows[0] = f"u0,Title,A B,{big},k,0\n"
    train = _write(tmp_path, HEADER + "".join(rows))
    run_preprocess(train, _test_csv(tmp_path), tmp_path / "prepared", CFG)
    frames = [
        pd.read_parquet(tmp_path / "prepared" / f) for f in ("train.parquet", "valid.parquet")
    ]
    text = pd.concat(frames).set_index("uuid").loc["u0", "text"]
    assert text.startswith("Title [SEP] k [SEP] word word")
    assert len(text) <= MAX_FIELD_CHARS + 20


def test_stage_script_exits_nonzero_and_writes_nothing(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    (tmp_path / "params.yaml").write_text(
        "data:\n  train: train.csv\n  test: test.csv\npreprocess:\n"
        "  text_template: '{title} {sep} {abstract}'\n  valid_size: 0.25\n  folds: 2\n  seed: 1\n"
    )
    _write(tmp_path, HEADER + "".join(_rows()).replace("u3,", "u1,"))
    _test_csv(tmp_path)
    proc = subprocess.run(
        [sys.executable, str(root / "stages" / "preprocess.py")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"DVC_ROOT": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 2
    assert "train.csv" in proc.stderr and "row 4" in proc.stderr and "'uuid'" in proc.stderr
    assert not (tmp_path / "data" / "prepared").exists()


@pytest.mark.parametrize("header", ["uuid,title,author,abstract,keywords", "uuid,TITLE,abstract"])
def test_a_test_column_in_another_case_stops_preprocess(tmp_path: Path, header: str) -> None:
    """A ``keywords`` column would be ignored and drop out of every model text."""
    test = _write(
        tmp_path, header + "\n" + ",".join(["t1"] + ["x"] * header.count(",")) + "\n", "test.csv"
    )
    err = _expect_error(tmp_path, _write(tmp_path, HEADER + "".join(_rows())), test)
    wrong = header.split(",")[-1] if "keywords" in header else "TITLE"
    assert err.row == 0 and err.column == wrong and "only in case" in str(err)


def test_uuids_are_kept_verbatim(tmp_path: Path) -> None:
    rows = _rows()
    rows[0] = rows[0].replace("u0,", '" u0 ",', 1)
    train = _write(tmp_path, HEADER + "".join(rows))
    run_preprocess(train, _test_csv(tmp_path), tmp_path / "prepared", CFG)
    labelled = pd.concat(
        [pd.read_parquet(tmp_path / "prepared" / f) for f in ("train.parquet", "valid.parquet")]
    )
    assert " u0 " in set(labelled["uuid"]) and "u0" not in set(labelled["uuid"])
