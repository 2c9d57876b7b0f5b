"""Every third-party distribution the app imports is declared in pyproject.toml."""

from __future__ import annotations

import ast
import importlib.util
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "desktop" / "latentstudio"


def imported_top_levels() -> dict[str, set[str]]:
    """Top-level module names imported anywhere in desktop/, with the files that import them."""
    found: dict[str, set[str]] = {}
    for path in SOURCE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.split(".")[0], set()).add(str(path.relative_to(ROOT)))
    return found


def declared_distributions() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        requirements += extra
    return {re.split(r"[\s\[<>=!~;]", r, maxsplit=1)[0].lower().replace("_", "-") for r in requirements}


def test_every_imported_distribution_is_declared() -> None:
    providers = metadata.packages_distributions()
    declared = declared_distributions()
    missing = {}
    for module, files in imported_top_levels().items():
        if module == "latentstudio" or module in sys.stdlib_module_names:
            continue
        distributions = {d.lower().replace("_", "-") for d in providers.get(module, [])}
        assert distributions, f"{module} (imported by {sorted(files)}) is not installed"
        if not distributions & declared:
            missing[module] = (sorted(distributions), sorted(files))
    assert not missing, f"imported but not declared in pyproject.toml: {missing}"


def load_lock() -> ModuleType:
    spec = importlib.util.spec_from_file_location("lock", ROOT / "packaging" / "lock.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_lock_pins_every_declared_distribution_and_the_tested_torch() -> None:
    lock = load_lock()
    pins = lock.locked_pins()
    assert pins["torch"] == "2.14.1" and pins["torchvision"] == "0.29.1"
    missing = {lock.normalise(d) for d in declared_distributions()} - set(pins)
    assert not missing, f"declared in pyproject.toml but not pinned in constraints.txt: {sorted(missing)}"


def test_this_environment_runs_the_locked_versions() -> None:
    """The suite passes for the versions the lock names, so it must be run with them installed."""
    differ = load_lock().differences()
    assert not differ, f"not the locked versions (pip install -c constraints.txt …): {differ}"


def test_a_lock_with_another_version_is_told_apart(tmp_path) -> None:
    lock = load_lock()
    other = tmp_path / "constraints.txt"
    other.write_text(f"numpy==0.0.1  # via nothing\npytest=={metadata.version('pytest')}\n"
                     "pywin32==1 ; sys_platform == 'win32' and sys_platform == 'linux'\n")
    assert lock.locked_pins(other) == {"numpy": "0.0.1", "pytest": metadata.version("pytest")}
    assert set(lock.differences(other)) == {"numpy"}


def test_every_set_up_installs_through_the_lock() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = [line for line in readme.splitlines() if line.startswith("python3 -m venv")]
    assert len(commands) == 2
    workflow = (ROOT / ".github" / "workflows" / "installers.yml").read_text(encoding="utf-8")
    installs = [line for line in workflow.splitlines() if re.search(r"pip install (?!--upgrade pip)", line)]
    assert installs
    for line in commands + installs:
        assert "-c constraints.txt" in line, f"installs without the lock: {line.strip()}"
