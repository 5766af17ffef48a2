"""DVC stage ``check_params``: refuse bad params before any other stage (and before DVC removes
that stage's outputs): the schema, then what valid params must find on this machine (the
backbones, data.test's rows for thresholds.expected_count, the tracking server;
papercls.config.environment). Writes data/params_ok.json, whose content is the same for all
valid params, so that this stage rerunning alone reruns nothing downstream."""

import os
import sys

from papercls.config.check import check_params_file, write_marker
from papercls.config.params import repo_root
from papercls.errors import ParamsError

MARKER_PATH = "data/params_ok.json"


def main() -> int:
    root = repo_root()
    try:
        # messages name the file as given; relative paths in it are taken from the root
        check_params_file(os.path.relpath(root / "params.yaml"), environment=True)
    except ParamsError as exc:
        for line in exc.lines():
            print(f"error: {line}", file=sys.stderr)
        return 2
    write_marker(root / MARKER_PATH)
    print("params.yaml: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
