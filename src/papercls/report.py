"""Markdown report for CI: params and metrics of the workspace against a base revision.

    python -m papercls.report --base origin/main [--repo .] [--output report.md]

prints the report and, when ``$GITHUB_STEP_SUMMARY`` is set (GitHub Actions), appends it to the
job summary. It runs ``dvc params diff <base> --md`` and ``dvc metrics diff <base> --md``; a
diff without rows reads "no changes", a failing command (e.g. a base revision a shallow clone
lacks) is reported in the text rather than raised.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

from papercls.config.params import repo_root

TITLE = "# papercls retrain report"
SUMMARY_FILE = Path("metrics") / "summary.md"
_TIMEOUT_S = 600


def _dvc_cmd() -> list[str]:
    """This interpreter's DVC (a dependency of papercls), else ``dvc`` on PATH."""
    if importlib.util.find_spec("dvc") is not None:
        return [sys.executable, "-m", "dvc"]
    exe = shutil.which("dvc")
    if exe is None:
        raise FileNotFoundError("dvc is not installed (pip install dvc)")
    return [exe]


def _run(cmd: list[str], repo: Path) -> tuple[int, str, str]:
    env = dict(os.environ, DVC_NO_ANALYTICS="true")
    try:
        p = subprocess.run(
            cmd, cwd=repo, capture_output=True, text=True, timeout=_TIMEOUT_S, env=env
        )
    except (OSError, subprocess.SubprocessError) as e:
        return 1, "", str(e)
    return p.returncode, p.stdout, p.stderr


def _git(repo: Path, *args: str) -> str | None:
    rc, out, _ = _run(["git", *args], repo)
    return out.strip() if rc == 0 else None


def _table_rows(md: str) -> int:
    """Data rows of a markdown table (header and separator lines not counted)."""
    lines = [ln for ln in md.splitlines() if ln.strip().startswith("|")]
    return max(len(lines) - 2, 0)


def dvc_diff_section(kind: str, base_rev: str, repo: Path) -> str:
    """Body of one section: the ``dvc <kind> diff <base> --md`` table, "no changes", or the
    error DVC gave."""
    try:
        cmd = [*_dvc_cmd(), kind, "diff", base_rev, "--md"]
    except FileNotFoundError as e:
        return f"_could not run dvc {kind} diff: {e}_"
    rc, out, err = _run(cmd, repo)
    if rc != 0:
        lines = [ln for ln in (err or out).strip().splitlines() if ln.strip()]
        why = lines[-1] if lines else f"exit status {rc}"
        return f"_could not compute `dvc {kind} diff {base_rev}`: {why}_"
    if _table_rows(out) == 0:
        return "no changes"
    return out.strip()


def build_report(base_rev: str, repo: Path) -> str:
    """Markdown: title, current commit and base, then params and metrics diffs against
    ``base_rev`` (workspace values on the right), then ``metrics/summary.md`` when present."""
    repo = Path(repo).resolve()
    commit = _git(repo, "rev-parse", "--short", "HEAD") or "unknown"
    subject = _git(repo, "log", "-1", "--format=%s") or ""
    base_sha = _git(repo, "rev-parse", "--short", "--verify", "--quiet", f"{base_rev}^{{commit}}")
    base_shown = f"`{base_rev}` ({base_sha})" if base_sha else f"`{base_rev}`"
    parts = [
        TITLE,
        "",
        f"Commit: `{commit}` {subject}".rstrip(),
        f"Compared with: {base_shown}",
        "",
        "## Params",
        "",
        dvc_diff_section("params", base_rev, repo),
        "",
        "## Metrics",
        "",
        dvc_diff_section("metrics", base_rev, repo),
        "",
    ]
    summary = repo / SUMMARY_FILE
    if summary.is_file():
        text = summary.read_text(encoding="utf-8", errors="replace").strip()
        if text:
            parts += [
                "<details><summary>metrics/summary.md</summary>",
                "",
                text,
                "",
                "</details>",
                "",
            ]
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m papercls.report", description=__doc__.split("\n")[0]
    )
    ap.add_argument("--base", default="HEAD", help="git revision to compare with (default HEAD)")
    ap.add_argument("--repo", type=Path, default=None, help="repository (default: this one)")
    ap.add_argument("--output", type=Path, default=None, help="also write the report here")
    args = ap.parse_args(argv)
    report = build_report(args.base, args.repo or repo_root())
    print(report)
    if args.output is not None:
        args.output.write_text(report + "\n", encoding="utf-8")
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as fh:
            fh.write(report + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
