"""The lock, constraints.txt: its pins for this platform, and whether an environment holds them.

    python packaging/lock.py        exit 1, naming each difference, unless this Python's
                                    environment has the locked version of every locked
                                    distribution it has installed

build_linux.sh runs it before PyInstaller, so an installer carries the versions the test suite
passed with; tests/test_dependencies.py loads it by path (this folder's name would shadow the
`packaging` distribution if it were imported as a package).
"""

from __future__ import annotations

import re
import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

LOCK = Path(__file__).resolve().parents[1] / "constraints.txt"


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked_pins(lock: Path = LOCK) -> dict[str, str]:
    """name → version for the lock's pins whose markers hold for this interpreter and platform."""
    pins = {}
    for line in lock.read_text(encoding="utf-8").splitlines():
        line = line.split("  #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        requirement = Requirement(line)
        if requirement.marker is None or requirement.marker.evaluate():
            (specifier,) = requirement.specifier
            if specifier.operator != "==":
                raise ValueError(f"the lock pins with ==: {line}")
            pins[normalise(requirement.name)] = specifier.version
    return pins


def differences(lock: Path = LOCK) -> dict[str, str]:
    """Installed distributions whose version is not the locked one (extras not installed are fine;
    a local label such as torch's +cu130 is the same release)."""
    differ = {}
    for name, version in locked_pins(lock).items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
        if installed.split("+")[0] != version:
            differ[name] = f"installed {installed}, locked {version}"
    return differ


def main() -> int:
    differ = differences()
    for name, what in sorted(differ.items()):
        print(f"lock: {name}: {what}", file=sys.stderr)
    if differ:
        print(f"lock: this environment is not the lock's; pip install -c {LOCK.name} …", file=sys.stderr)
        return 1
    print(f"lock: this environment holds the locked versions ({len(locked_pins())} pins for this platform)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
