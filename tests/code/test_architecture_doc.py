"""docs/ARCHITECTURE.md's module table names every module of the package, and nothing else."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "papercls"


def documented() -> set[str]:
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    return set(re.findall(r"^\| `([\w/]+(?:\.py)?/?)` \|", text, flags=re.M))


def modules() -> set[str]:
    names = {p.name for p in PACKAGE.glob("*.py") if p.name != "__init__.py"}
    names |= {f"{p.name}/" for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    return names


def test_every_module_is_in_the_table_and_every_row_is_a_module() -> None:
    rows, mods = documented(), modules()
    assert rows, "no module table found in docs/ARCHITECTURE.md"
    assert not mods - rows, f"modules missing from docs/ARCHITECTURE.md: {sorted(mods - rows)}"
    assert not rows - mods, f"rows for modules that do not exist: {sorted(rows - mods)}"
