"""`papercls` command: the package's entry points outside DVC."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path


def _split_settings(params_path: str | None) -> tuple[dict, str]:
    """The ``preprocess`` section `papercls validate` checks a train file against, and where it
    came from: ``--params``, else the repository's params.yaml, else the defaults."""
    from papercls.config.check import check_section, read_params_file
    from papercls.config.params import repo_root
    from papercls.data.preprocess import DEFAULT_SPLIT
    from papercls.errors import ParamsError

    path = params_path or repo_root() / "params.yaml"
    if params_path is None and not Path(path).is_file():
        return dict(DEFAULT_SPLIT), "defaults"
    params = read_params_file(path)
    section = params.get("preprocess") if isinstance(params, dict) else None
    problems = check_section("preprocess", section)
    if problems:
        raise ParamsError(path, problems)
    return {**DEFAULT_SPLIT, **section}, str(path)


def _header(path: str) -> list[str]:
    """The column names of a regular CSV file's first line; [] when it is not a regular file
    (standard input is read once, by the checked reader; a device or FIFO is refused there) or
    its first line cannot be read (the checks that follow name the problem)."""
    import csv

    from papercls.data.io import header_names

    try:
        if path == "-" or not Path(path).is_file():
            return []
        with open(path, encoding="utf-8-sig", newline="") as fh:
            return header_names(fh.readline(1 << 20).rstrip("\r\n"))
    except (OSError, UnicodeDecodeError, csv.Error):
        return []


def _validate(argv: list[str]) -> int:
    from papercls.data.schema import load_test, load_train
    from papercls.errors import InputError, ParamsError

    ap = argparse.ArgumentParser(prog="papercls validate", description="Check a CSV's contract.")
    ap.add_argument("csv")
    ap.add_argument(
        "--kind",
        choices=["train", "test"],
        default=None,
        help="default: train when the header has a label column, else test",
    )
    ap.add_argument(
        "--params",
        help="params.yaml whose preprocess split (valid_size, folds, seed) a train file must "
        "fit (default: the repository's params.yaml, else valid_size 0.2, folds 5, seed 42)",
    )
    args = ap.parse_args(argv)
    if args.kind is None:
        args.kind = "train" if "label" in [h.lower() for h in _header(args.csv)] else "test"
    try:
        df = load_train(args.csv) if args.kind == "train" else load_test(args.csv, keep_label=True)
        if args.kind == "train":
            from papercls.data.preprocess import split_labelled

            cfg, source = _split_settings(args.params)
            tr, va, _ = split_labelled(df["label"].to_numpy(), args.csv, cfg)
    except (InputError, ParamsError) as exc:
        for line in exc.lines() if isinstance(exc, ParamsError) else [str(exc)]:
            print(f"error: {line}", file=sys.stderr)
        return 2
    if args.kind == "train":
        print(
            f"{args.csv}: {len(df)} rows ok ({len(tr)} train / {len(va)} valid, "
            f"{cfg.get('folds', 5)} folds; split settings: {source})"
        )
    else:
        print(f"{args.csv}: {len(df)} rows ok (test file)")
    return 0


def _check_params(argv: list[str]) -> int:
    from papercls.config.check import check_params_file
    from papercls.config.params import repo_root
    from papercls.errors import ParamsError

    ap = argparse.ArgumentParser(
        prog="papercls check-params",
        description="Check every section of a params.yaml (what the check_params stage does).",
    )
    ap.add_argument("params", nargs="?", help="default: params.yaml of the repository")
    args = ap.parse_args(argv)
    path = args.params or os.path.relpath(repo_root() / "params.yaml")
    try:
        check_params_file(path, environment=True)
    except ParamsError as exc:
        for line in exc.lines():
            print(f"error: {line}", file=sys.stderr)
        return 2
    print(f"{path}: ok")
    return 0


def _lazy(module: str, func: str) -> Callable[[list[str]], int]:
    def run(argv: list[str]) -> int:
        import importlib

        return int(getattr(importlib.import_module(module), func)(argv) or 0)

    return run


COMMANDS: dict[str, tuple[Callable[[list[str]], int], str]] = {
    "validate": (_validate, "check a train or test CSV against the data contract"),
    "check-params": (_check_params, "check every section of params.yaml"),
    "sample": (_lazy("papercls.synthetic.sample", "main"), "generate a synthetic labelled corpus"),
    "predict": (
        _lazy("papercls.inference.predict_cli", "predict_main"),
        "label any CSV with a trained model",
    ),
    "spark-predict": (
        _lazy("papercls.inference.spark", "main"),
        "score a corpus on Spark with the registered model",
    ),
    "report": (_lazy("papercls.report", "main"), "markdown diff of params and metrics"),
}


def usage() -> str:
    lines = ["usage: papercls COMMAND [ARGS]   (papercls --version)", "", "commands:"]
    lines += [f"  {name:<14} {help_}" for name, (_, help_) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``papercls COMMAND [ARGS]``: the command's exit status. ``--help``: the commands, exit 0;
    ``--version``: the package version; no command: the commands on stderr, exit 2; an unknown
    one: one ``error:`` line naming it and the commands, exit 2."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ("-h", "--help"):
        print(usage())
        return 0
    if argv and argv[0] in ("-V", "--version"):
        from papercls import __version__

        print(f"papercls {__version__}")
        return 0
    if not argv:
        print(usage(), file=sys.stderr)
        return 2
    if argv[0] not in COMMANDS:
        known = ", ".join(COMMANDS)
        what = "option" if argv[0].startswith("-") else "command"
        print(
            f"error: unknown {what} {argv[0]!r}; commands: {known} (papercls --help)",
            file=sys.stderr,
        )
        return 2
    from papercls.console import quiet_third_party

    quiet_third_party()  # no library progress bars in a log (they stay on a terminal)
    return COMMANDS[argv[0]][0](argv[1:])


if __name__ == "__main__":
    sys.exit(main())
