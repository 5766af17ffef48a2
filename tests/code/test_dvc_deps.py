"""dvc.yaml lists, for every stage, exactly the project code the stage runs.

The project modules a stage imports are derived from its script by following ``import``
statements (also those inside functions) through ``src/papercls`` transitively. A module that is
imported but not listed means editing it would not rerun the stage (a reproducibility hole); a
listed module that is never imported reruns the stage for nothing.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"
PACKAGE = "papercls"


def module_file(module: str) -> Path | None:
    """The source file of a dotted project module (``papercls.x.y``), or None."""
    if module != PACKAGE and not module.startswith(PACKAGE + "."):
        return None
    base = SRC.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _module_name(path: Path) -> str:
    rel = path.relative_to(SRC).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(path: Path) -> set[str]:
    """Dotted names imported anywhere in ``path`` (absolute, relative resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = _module_name(path) if path.is_relative_to(SRC) else ""
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def project_closure(script: Path) -> set[Path]:
    """Every project source file that ``script`` imports, transitively, with the ``__init__``
    of each package on the way (Python runs those too)."""
    seen: set[Path] = set()
    todo = [script]
    while todo:
        current = todo.pop()
        for name in imported_modules(current):
            parts = name.split(".")
            for i in range(1, len(parts) + 1):
                file = module_file(".".join(parts[:i]))
                if file is not None and file not in seen:
                    seen.add(file)
                    todo.append(file)
    return seen


def stages() -> dict[str, dict]:
    """Stage name -> definition, ``foreach`` expanded."""
    spec = yaml.safe_load((ROOT / "dvc.yaml").read_text(encoding="utf-8"))
    out: dict[str, dict] = {}
    for name, stage in spec["stages"].items():
        if "foreach" in stage:
            for item in stage["foreach"]:
                text = yaml.safe_dump(stage["do"]).replace("${item}", str(item))
                out[f"{name}@{item}"] = yaml.safe_load(text)
        else:
            out[name] = stage
    return out


def listed_code(stage: dict) -> set[Path]:
    """Project source files a stage lists as deps (a listed directory covers its files)."""
    files: set[Path] = set()
    for dep in stage.get("deps", []):
        path = ROOT / str(dep)
        if not str(dep).startswith("src/"):
            continue
        files.update(path.rglob("*.py") if path.is_dir() else [path])
    return files


def stage_script(stage: dict) -> Path:
    match = re.search(r"\bstages/\w+\.py\b", stage["cmd"])
    assert match, f"stage command {stage['cmd']!r} does not run a stages/ script"
    return ROOT / match.group(0)


STAGES = stages()


def test_import_scanner_sees_nested_and_relative_imports(tmp_path: Path) -> None:
    script = tmp_path / "s.py"
    script.write_text("def f():\n    from papercls.data.io import write_json\n")
    assert "papercls.data.io" in imported_modules(script)
    assert SRC / PACKAGE / "data" / "io.py" in project_closure(script)


@pytest.mark.parametrize("name", sorted(STAGES))
def test_stage_lists_exactly_the_code_it_imports(name: str) -> None:
    stage = STAGES[name]
    script = stage_script(stage)
    deps = {str(d) for d in stage.get("deps", [])}
    assert str(script.relative_to(ROOT)) in deps, f"{name}: its own script is not a dep"
    needed = project_closure(script)
    listed = listed_code(stage)
    missing = sorted(str(p.relative_to(ROOT)) for p in needed - listed)
    extra = sorted(str(p.relative_to(ROOT)) for p in listed - needed)
    assert not missing, f"{name}: imports but does not list {missing}"
    assert not extra, f"{name}: lists but never imports {extra}"
