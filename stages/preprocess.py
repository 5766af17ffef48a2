"""DVC stage: validate the input CSVs and write data/prepared/."""

import sys

from papercls.config.params import load_params
from papercls.data.preprocess import run_preprocess
from papercls.errors import InputError


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
