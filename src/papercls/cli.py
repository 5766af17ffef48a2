"""`papercls` command: the package's entry points outside DVC."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable


def _validate(argv: list[str]) -> int:
    from papercls.errors import InputError
    from papercls.schema import load_test, load_train

    ap = argparse.ArgumentParser(prog="papercls validate", description="Check a CSV's contract.")
    ap.add_argument("csv")
    ap.add_argument("--kind", choices=["train", "test"], default="train")
    args = ap.parse_args(argv)
    try:
        df = load_train(args.csv) if args.kind == "train" else load_test(args.csv, keep_label=True)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{args.csv}: {len(df)} rows ok")
    return 0


def _lazy(module: str, func: str) -> Callable[[list[str]], int]:
    def run(argv: list[str]) -> int:
        import importlib

        return int(getattr(importlib.import_module(module), func)(argv) or 0)

    return run


COMMANDS: dict[str, tuple[Callable[[list[str]], int], str]] = {
    "validate": (_validate, "check a train or test CSV against the data contract"),
    "sample": (_lazy("papercls.sample", "main"), "generate a synthetic labelled corpus"),
    "predict": (
        _lazy("papercls.predict_cli", "predict_main"),
        "label any CSV with a trained model",
    ),
    "report": (_lazy("papercls.report", "main"), "markdown diff of params and metrics"),
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        print("usage: papercls COMMAND [ARGS]\n\ncommands:")
        for name, (_, help_) in COMMANDS.items():
            print(f"  {name:<10} {help_}")
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    return COMMANDS[argv[0]][0](argv[1:])


if __name__ == "__main__":
    sys.exit(main())
