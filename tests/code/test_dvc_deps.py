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


def _project_graph() -> dict[Path, set[Path]]:
    """Each module of the package -> the project modules it imports (anywhere in the file),
    each import resolved to its deepest module (a package's ``__init__`` only when the import
    names the package itself)."""
    graph: dict[Path, set[Path]] = {}
    for path in sorted((SRC / PACKAGE).rglob("*.py")):
        targets: set[Path] = set()
        for name in imported_modules(path):
            parts = name.split(".")
            for i in range(len(parts), 0, -1):
                file = module_file(".".join(parts[:i]))
                if file is not None:
                    targets.add(file)
                    break
        graph[path] = targets - {path}
    return graph


def import_cycles(graph: dict[Path, set[Path]]) -> list[list[Path]]:
    """The import cycles of ``graph``: its strongly connected components of two or more."""
    order: dict[Path, int] = {}
    low: dict[Path, int] = {}
    stack: list[Path] = []
    cycles: list[list[Path]] = []

    def visit(node: Path) -> None:
        order[node] = low[node] = len(order)
        stack.append(node)
        for nxt in graph.get(node, ()):
            if nxt not in order:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], order[nxt])
        if low[node] == order[node]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in graph:
        if node not in order:
            visit(node)
    return cycles


def test_cycle_finder_finds_a_cycle() -> None:
    a, b, c = Path("a.py"), Path("b.py"), Path("c.py")
    assert import_cycles({a: {b}, b: {a, c}, c: set()}) == [[a, b]]
    assert import_cycles({a: {b}, b: {c}, c: set()}) == []


def test_the_package_has_no_import_cycle() -> None:
    """Imports inside functions count: a cycle hidden in a function still ties two modules'
    deps (and their edits) together."""
    cycles = [[str(p.relative_to(SRC)) for p in c] for c in import_cycles(_project_graph())]
    assert not cycles, f"import cycles: {cycles}"


def _bound_names(init: Path) -> set[str]:
    """Names a package ``__init__`` binds when it runs (imports, assignments, definitions)."""
    names: set[str] = set()
    for node in ast.parse(init.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


def test_no_project_code_takes_a_lazy_name_from_a_package() -> None:
    """A package that loads names on first access (a module ``__getattr__``) hides the module
    behind them from the import scanner: stage and project code import those names from their
    modules, so that the deps above stay complete."""
    files = [*sorted((SRC / PACKAGE).rglob("*.py")), *sorted((ROOT / "stages").glob("*.py"))]
    wrong = []
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ImportFrom) or node.level or not node.module:
                continue
            init = module_file(node.module)
            if init is None or init.name != "__init__.py":
                continue
            bound = _bound_names(init)
            if "__getattr__" not in bound:
                continue
            for alias in node.names:
                if alias.name not in bound and module_file(f"{node.module}.{alias.name}") is None:
                    wrong.append(f"{path.relative_to(ROOT)}: {node.module}.{alias.name}")
    assert not wrong, f"lazily loaded names imported from their package: {wrong}"


def test_evaluate_does_not_run_model_or_registry_code() -> None:
    """The evaluate stage reads predictions and records a run: an edit of the fused head or of
    the registry must not rerun it."""
    closure = {p.relative_to(SRC / PACKAGE).as_posix() for p in project_closure(
        ROOT / "stages" / "evaluate.py") if p.is_relative_to(SRC / PACKAGE)}
    for module in ("models/fused_head.py", "tracking/registry.py", "tracking/serving.py"):
        assert module not in closure, f"stages/evaluate.py imports {module}"


def test_a_folder_dep_does_not_change_with_bytecode() -> None:
    """Python writes ``__pycache__`` into a source folder when it runs: DVC must ignore it
    wherever a stage lists a folder of code, or the folder's hash changes on every run."""
    folders = [d for s in STAGES.values() for d in s.get("deps", []) if (ROOT / str(d)).is_dir()
               and str(d).startswith("src/")]
    ignored = (ROOT / ".dvcignore").read_text(encoding="utf-8").splitlines()
    assert not folders or "__pycache__/" in ignored, f"folder deps {folders} but no __pycache__/"
