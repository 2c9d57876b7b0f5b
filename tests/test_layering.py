"""Nothing outside ui/ and app.py imports Qt: the core is a library."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "desktop" / "latentstudio"
QT_MODULES = ("PySide6", "PyQt5", "PyQt6", "shiboken6", "qtpy")


def _qt_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        found += [n for n in names if n.split(".")[0] in QT_MODULES]
    return found


def test_only_ui_and_app_import_qt() -> None:
    offenders = {}
    checked = 0
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE)
        if relative.parts[0] == "ui" or relative == Path("app.py"):
            continue
        checked += 1
        imports = _qt_imports(path)
        if imports:
            offenders[str(relative)] = imports
    assert checked > 10
    assert offenders == {}


def test_the_check_sees_qt_imports(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import os\nfrom PySide6.QtCore import QObject\n")
    assert _qt_imports(sample) == ["PySide6.QtCore"]


def _unit(relative: Path) -> str:
    """The package a module belongs to (`library`, `models`, …), or the top-level module's name."""
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def _load_time_imports(path: Path) -> set[str]:
    """Modules of ours imported when `path` is imported: not under `if TYPE_CHECKING`, not inside
    a function (those run later, on use), as dotted names relative to the package."""
    relative = path.relative_to(PACKAGE)
    here = list(relative.with_suffix("").parts)
    if here[-1] == "__init__":
        here.pop()
    found: set[str] = set()

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                visit(node.orelse)
                continue
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = here[: len(here) - node.level + (1 if relative.name == "__init__.py" else 0)]
                    target = base + (node.module.split(".") if node.module else [])
                    found.add(".".join(target))
                elif node.module and node.module.startswith("latentstudio."):
                    found.add(node.module.removeprefix("latentstudio."))
            elif isinstance(node, ast.Import):
                found.update(a.name.removeprefix("latentstudio.") for a in node.names if a.name.startswith("latentstudio."))
            elif isinstance(node, (ast.If, ast.Try, ast.With)):
                visit(node.body + getattr(node, "orelse", []) + getattr(node, "finalbody", [])
                      + [s for h in getattr(node, "handlers", []) for s in h.body])

    visit(ast.parse(path.read_text(encoding="utf-8")).body)
    return {name for name in found if name}


def _package_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        unit = _unit(path.relative_to(PACKAGE))
        targets = {name.split(".")[0] for name in _load_time_imports(path)}
        graph.setdefault(unit, set()).update(t for t in targets if t != unit)
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    """One cycle of the graph (its nodes in order), or [] when there is none."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def walk(node: str) -> list[str]:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := walk(nxt)):
                return found
        state[node] = 2
        stack.pop()
        return []

    for node in sorted(graph):
        if node not in state and (found := walk(node)):
            return found
    return []


def test_packages_import_each_other_without_a_cycle() -> None:
    """What a package imports when it is loaded never leads back to it: packages stay layers
    (engine, models, library, …, ui), and a newcomer can read them from the bottom up."""
    graph = _package_graph()
    assert {"engine", "models", "library", "imagegen", "codegen", "ui"} <= set(graph)
    assert graph["ui"] >= {"library", "engine"}  # the graph sees real imports
    assert _cycle(graph) == []


def test_the_cycle_check_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) == []
