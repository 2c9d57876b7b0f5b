"""The command line: doctor, models commands, the GUI smoke test."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pytest

from latentstudio import cli
from latentstudio.cli import main


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_doctor_json(capsys: pytest.CaptureFixture[str], fresh_home: Path) -> None:
    code, out, _ = run_cli(capsys, "doctor", "--json")
    assert code == 0
    report = json.loads(out)
    assert report["data_home"] == str(fresh_home.resolve())
    assert report["versions"]["torch"].startswith("2.")
    assert report["device"]["kind"] in ("cuda", "mps", "cpu")
    if report["device"]["kind"] == "cpu":
        assert report["device"]["dtype"] == "float32"
        assert report["device"]["fallback_reason"]
    assert report["memory"]["model_budget_bytes"] > 0
    assert report["models"] == []


def test_models_import_list_set_default_remove(
    capsys: pytest.CaptureFixture[str], tiny_models: Callable[[str], Path]
) -> None:
    samples = tiny_models("safetensors-samples")
    code, out, _ = run_cli(capsys, "models", "import", str(samples / "llm-folder"), "--id", "first")
    assert code == 0 and "Imported llm model first" in out
    code, out, _ = run_cli(capsys, "models", "import", str(samples / "llm-folder"), "--id", "second", "--link")
    assert code == 0 and "as a link" in out
    code, out, _ = run_cli(capsys, "models", "list", "--json")
    rows = {row["id"]: row for row in json.loads(out)}
    assert rows["first"]["default"] is True and rows["second"]["default"] is False
    assert rows["second"]["linked"] is True
    assert run_cli(capsys, "models", "set-default", "second")[0] == 0
    code, out, _ = run_cli(capsys, "models", "list")
    assert "* llm       second" in out
    code, out, _ = run_cli(capsys, "models", "remove", "first")
    assert code == 0 and "Removed first" in out


def test_models_import_refusal_exits_nonzero(
    capsys: pytest.CaptureFixture[str], tiny_models: Callable[[str], Path]
) -> None:
    samples = tiny_models("safetensors-samples")
    code, _, err = run_cli(capsys, "models", "import", str(samples / "pickled.ckpt"))
    assert code == 1
    assert "error:" in err and "pickle" in err


def test_gui_quit_after_shown_prints_time(fresh_home: Path) -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "LATENT_STUDIO_HOME": str(fresh_home)}
    result = subprocess.run(
        [sys.executable, "-m", "latentstudio", "gui", "--quit-after-shown"],
        env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    line = next(l for l in result.stdout.splitlines() if l.startswith("window-shown-ms:"))
    assert float(line.split(":")[1]) > 0


def test_doctor_names_every_missing_qt_library(monkeypatch, capsys) -> None:
    import ctypes

    from latentstudio import system_libraries

    real = ctypes.CDLL

    def without_two(name, *args, **kwargs):
        if name in ("libxcb-icccm.so.4", "libxcb-keysyms.so.1"):
            raise OSError(f"{name}: cannot open shared object file")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(system_libraries.sys, "platform", "linux")
    monkeypatch.setattr(system_libraries.ctypes, "CDLL", without_two)
    missing = system_libraries.missing_qt_libraries()
    assert {"libxcb-icccm4", "libxcb-keysyms1"} <= set(missing)
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "libxcb-icccm4" in out and "libxcb-keysyms1" in out and "apt-get install" in out


def test_the_command_table_names_what_each_module_registers() -> None:
    import argparse
    import importlib

    for module, commands in cli.COMMAND_MODULES.items():
        sub = argparse.ArgumentParser().add_subparsers()
        importlib.import_module(module).register(sub)
        assert tuple(sorted(sub.choices)) == tuple(sorted(commands)), module


def test_a_command_imports_only_its_own_module(fresh_home: Path) -> None:
    code = (
        "import sys\n"
        "from latentstudio import cli\n"
        "rc = cli.main(['library', 'status', '--json'])\n"
        "loaded = sorted(m for m in cli.COMMAND_MODULES if m in sys.modules)\n"
        "print(rc, loaded, file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "LATENT_STUDIO_HOME": str(fresh_home)})
    assert done.stderr.strip().splitlines()[-1] == "0 ['latentstudio.library.cli']", done.stderr
    assert cli.command_modules(["--help"]) == list(cli.COMMAND_MODULES)
    assert cli.command_modules([]) == cli.command_modules(["gui"]) == []
