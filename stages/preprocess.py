"""DVC stage: validate the input CSVs and write data/prepared/."""

import sys

from papercls.errors import InputError
from papercls.params import load_params
from papercls.preprocess import run_preprocess


def main() -> int:
    params = load_params()
    try:
        meta = run_preprocess(
            params["data"]["train"], params["data"]["test"], "data/prepared", params["preprocess"]
        )
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"prepared: {meta['n_train']} train, {meta['n_valid']} valid, {meta['n_test']} test")
    return 0


if __name__ == "__main__":
    sys.exit(main())
