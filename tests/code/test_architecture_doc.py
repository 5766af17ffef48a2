"""docs/ARCHITECTURE.md's module tables name every module of the package, subpackages included,
and nothing else."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "papercls"
MAX_MODULES_PER_FOLDER = 9  # one concern per folder, each small enough to read in one sitting


def documented() -> set[str]:
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    return set(re.findall(r"^\| `([\w/]+\.py)` \|", text, flags=re.M))


def modules() -> set[str]:
    """Every module's path relative to the package, ``__init__.py`` files left out."""
    return {
        p.relative_to(PACKAGE).as_posix()
        for p in PACKAGE.rglob("*.py")
        if p.name != "__init__.py" and "__pycache__" not in p.parts
    }


def test_every_module_is_in_the_table_and_every_row_is_a_module() -> None:
    rows, mods = documented(), modules()
    assert rows, "no module table found in docs/ARCHITECTURE.md"
    assert not mods - rows, f"modules missing from docs/ARCHITECTURE.md: {sorted(mods - rows)}"
    assert not rows - mods, f"rows for modules that do not exist: {sorted(rows - mods)}"


def test_every_folder_is_a_small_package() -> None:
    folders = {p.parent for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts}
    for folder in folders:
        assert (folder / "__init__.py").is_file(), f"{folder} is not a package"
        own = [p for p in folder.glob("*.py") if p.name != "__init__.py"]
        assert len(own) <= MAX_MODULES_PER_FOLDER, f"{folder}: {len(own)} modules"
