"""Tests marked `cluster` run in a pytest process of their own, one per test module.

Ray's runtime, started inside a process, stays there after `ray.shutdown()` (native threads: gRPC
timers, its event engine, its GCS client) and puts its own crash handler in place of Python's. Run
in the suite's process, it shared the rest of the run with every later test. So the parent pytest
starts a child pytest for a marked module's selected tests, once, and relays the child's reports,
sent back through pytest's own report serialisation (as pytest-xdist sends them). A child that
dies fails the tests it did not report, with the end of its output.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from _pytest.reports import TestReport

MARKER = "cluster"
REPORTS_ENV = "LATENT_STUDIO_TEST_REPORTS"  # set in the child: the file its reports go to
CHILD_TIMEOUT_S = 1800
OUTPUT_KEPT = 8000  # characters of the child's output kept for a test it did not report


@dataclass
class ChildRun:
    reports: dict[str, list[TestReport]] = field(default_factory=dict)
    exit_code: int | None = None
    output: str = ""
    output_shown: bool = False  # under the first test the child did not finish


_runs: dict[str, ChildRun] = {}  # module path → its child's run


def in_child() -> bool:
    return REPORTS_ENV in os.environ


class ReportSender:
    """The child's plugin: each test report appended to the parent's file as it is made."""

    def __init__(self, config: pytest.Config):
        self.config = config

    def pytest_runtest_logreport(self, report: TestReport) -> None:
        data = self.config.hook.pytest_report_to_serializable(config=self.config, report=report)
        with open(os.environ[REPORTS_ENV], "a", encoding="utf-8") as out:
            out.write(json.dumps(data) + "\n")


def run_elsewhere(item: pytest.Item) -> bool:
    """In the parent: True once `item`'s reports came from its module's child (run on first use);
    False for a test that runs here."""
    if in_child() or item.get_closest_marker(MARKER) is None:
        return False
    module = item.nodeid.split("::")[0]
    if module not in _runs:
        _runs[module] = _run_child(item.session, module)
    run = _runs[module]
    reports = run.reports.get(item.nodeid, [])
    if not any(report.when == "teardown" for report in reports):  # the child ended inside this test
        reports = reports + [_unreported(item, run, "call" if all(r.when == "setup" for r in reports) else "teardown")]
    item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
    for report in reports:
        item.ihook.pytest_runtest_logreport(report=report)
    item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
    return True


def _run_child(session: pytest.Session, module: str) -> ChildRun:
    nodeids = [i.nodeid for i in session.items if i.nodeid.split("::")[0] == module and i.get_closest_marker(MARKER)]
    root = session.config.rootpath
    run = ChildRun()
    with tempfile.TemporaryDirectory(prefix="latent-child-tests-") as scratch:
        reports = Path(scratch) / "reports.jsonl"
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(root), *nodeids]
        try:
            done = subprocess.run(command, cwd=root, env={**os.environ, REPORTS_ENV: str(reports)},
                                  capture_output=True, text=True, timeout=CHILD_TIMEOUT_S)
            run.exit_code, run.output = done.returncode, done.stdout + done.stderr
        except subprocess.TimeoutExpired as late:
            run.output = f"(stopped after {CHILD_TIMEOUT_S} s)\n{_text(late.stdout)}{_text(late.stderr)}"
        if reports.is_file():
            for line in reports.read_text(encoding="utf-8").splitlines():
                report = session.config.hook.pytest_report_from_serializable(config=session.config, data=json.loads(line))
                if isinstance(report.longrepr, list):  # a skip's (path, line, reason), a list after JSON
                    report.longrepr = tuple(report.longrepr)
                run.reports.setdefault(report.nodeid, []).append(report)
    return run


def _unreported(item: pytest.Item, run: ChildRun, when: str) -> TestReport:
    ended = "did not end" if run.exit_code is None else f"ended with exit code {run.exit_code}"
    if run.output_shown:
        output = "(its output is under the first test it did not finish)"
    else:
        output, run.output_shown = f"The end of its output:\n{run.output[-OUTPUT_KEPT:]}", True
    return TestReport(item.nodeid, item.location, {}, "failed",
                      f"The child pytest process {ended} before this test's end. {output}", when)


def _text(output: bytes | str | None) -> str:
    return output.decode(errors="replace") if isinstance(output, bytes) else (output or "")
