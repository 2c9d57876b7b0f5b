"""Shared fixtures: offscreen Qt, a fresh data home per test, no leftover threads, tiny models."""

from __future__ import annotations

import faulthandler
import gc
import os
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Iterator

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never download
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
# Subprocesses the tests start import this checkout too, not whichever copy is installed.
os.environ["PYTHONPATH"] = os.pathsep.join(
    [str(ROOT / "desktop"), str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
)

import pytest

from latentstudio.context import AppContext
from latentstudio.engine import DeviceInfo, Engine
from latentstudio.paths import HOME_ENV, Paths
from latentstudio.ui.garbage_collection import collect_due
from tests.support import own_process

_GC_THRESHOLDS = gc.get_threshold()  # Python's own, read before it is switched off


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> bool | None:
    """Tests that start Ray run in a pytest process of their own (see `support/own_process.py`)."""
    return True if own_process.run_elsewhere(item) else None


def pytest_configure(config: pytest.Config) -> None:
    # Cycles are collected on the main (GUI) thread only, between tests, as the window does with
    # `GuiThreadGarbageCollector`: collected on an inference thread, a cycle holding a widget of an
    # earlier test deleted it there (a segmentation fault, "Garbage-collecting" under a model load).
    gc.disable()
    if own_process.in_child():
        config.pluginmanager.register(own_process.ReportSender(config), "own-process-reports")


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    """Cycles left by the tests are collected here, on the main thread, when Python would have
    (see `pytest_configure`).

    Ray, started by the cluster tests, puts its own crash handler in place of Python's, and it
    prints nothing: a segmentation fault ended a run without a word. Python's handler goes back
    after each test, so a crash shows every thread's stack."""
    collect_due(_GC_THRESHOLDS)  # a full collection after every test tripled the suite's time
    if "ray" in sys.modules:
        from _pytest.faulthandler import fault_handler_stderr_fd_key  # the stream pytest gave it

        faulthandler.disable()  # enable() alone keeps the handlers it believes are in place
        faulthandler.enable(file=item.config.stash[fault_handler_stderr_fd_key], all_threads=True)


@pytest.hookimpl(trylast=True)  # after `-m` deselection: a lane without GPU tests never imports torch here
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    gpu_items = [item for item in items if "gpu" in item.keywords]
    if not gpu_items:
        return
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in gpu_items:
        item.add_marker(skip)


@pytest.fixture(autouse=True)
def fresh_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own empty data home (settings, library, models, logs)."""
    home = tmp_path / "home"
    monkeypatch.setenv(HOME_ENV, str(home))
    return home


@pytest.fixture(autouse=True)
def no_leftover_threads() -> Iterator[None]:
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 10
    while True:
        leftover = [
            t for t in threading.enumerate() if t not in before and t.is_alive() and not t.daemon
        ] + [
            t for t in threading.enumerate() if t not in before and t.is_alive() and t.name.startswith("latent-")
        ]
        if not leftover or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert not leftover, f"threads left running after the test: {[t.name for t in leftover]}"


@pytest.fixture
def paths(fresh_home: Path) -> Paths:
    return Paths(fresh_home).ensure()


@pytest.fixture
def cpu_device() -> DeviceInfo:
    return DeviceInfo.cpu("tests run on the CPU")


@pytest.fixture
def ctx(paths: Paths) -> Iterator[AppContext]:
    """An application context whose engine (started on first use) runs on the CPU."""
    context = AppContext(paths, device=DeviceInfo.cpu("tests run on the CPU"))
    yield context
    context.close()


@pytest.fixture
def engine(cpu_device: DeviceInfo) -> Iterator[Engine]:
    eng = Engine(device=cpu_device, idle_tick_s=0.2).start()
    yield eng
    eng.shutdown()


@pytest.fixture(scope="session")
def tiny_models() -> Callable[[str], Path]:
    """`tiny_models("clip-tiny")` → path of that tiny model, built once and cached."""
    from tests.support.model_store import tiny_model  # imports torch: only for tests that use models

    return tiny_model


@pytest.fixture(scope="session")
def _shapes_template(tmp_path_factory: pytest.TempPathFactory, tiny_models: Callable[[str], Path]) -> Path:
    """Built once per session: 72 held-out shape pictures (`pristine/`, a seed the model never
    saw) and a data home (`home/`) where they are indexed with clip-shapes as model `shapes`."""
    import shutil

    from latentstudio.library import add_folders, submit_index
    from tests.support.shape_pictures import write_shapes

    root = tmp_path_factory.mktemp("shapes-library")
    pristine = write_shapes(root / "pristine", per_class=6, seed=2024, quality=92)
    photos = Path(shutil.copytree(pristine, root / "photos"))
    with pytest.MonkeyPatch.context() as patch:  # nothing may fall back to the user's own data home
        patch.setenv(HOME_ENV, str(root / "home"))
        context = AppContext(Paths(root / "home"), device=DeviceInfo.cpu("tests run on the CPU"))
        try:
            context.registry.import_path(tiny_models("clip-shapes"), kind="clip", model_id="shapes", link=True)
            add_folders(context, [photos])
            context.library.scan()
            assert submit_index(context).result(120).encoded == 72
            context.clip_exports.pending("shapes").result(120)  # the torch model encoded: both towers exported
        finally:
            context.close()
    return root


@pytest.fixture
def shapes(ctx: AppContext, _shapes_template: Path) -> tuple[AppContext, Path]:
    """(ctx, photos): the session's indexed shapes library, as this test's own. Its data home is
    copied into the test's before the library opens; its pictures are put back as they were, at
    the same place (the library records absolute paths), so a test may add, move or remove some."""
    import shutil

    assert ctx._library is None, "ask for `shapes` before anything opens ctx.library"
    photos = _shapes_template / "photos"
    shutil.rmtree(photos)
    shutil.copytree(_shapes_template / "pristine", photos)  # copy2 keeps the times the scan compares
    for item in (_shapes_template / "home").iterdir():
        if item.name in ("settings.json", "logs"):
            continue
        target = ctx.paths.home / item.name
        if item.is_dir():
            shutil.copytree(item, target, dirs_exist_ok=True)
        else:
            shutil.copy2(item, target)
    ctx.settings.update(library_folders=[str(photos)])
    ctx.save_settings()
    return ctx, photos


@pytest.fixture
def code_page(qtbot, ctx: AppContext, tiny_models: Callable[[str], Path]):
    """The Code page with the tiny language model installed and the engine's events attached
    (not shown yet: each test module sizes and shows it as it needs)."""
    from latentstudio.ui.page_services import PageServices
    from latentstudio.ui.pages.code_page import CodePage

    ctx.registry.import_path(tiny_models("llm-tiny"), kind="llm", model_id="tiny-llm", link=True)
    services = PageServices.create(ctx)
    widget = CodePage(services)
    qtbot.addWidget(widget)
    services.bridge.start_engine()
    yield widget
    services.bridge.detach()


@pytest.fixture
def open_image_page(qtbot, ctx: AppContext):
    """`open_image_page()` → the Image page on this test's context, shown, its engine's events
    attached (the models installed before the call are listed); detached at the test's end."""
    from latentstudio.ui.page_services import PageServices
    from latentstudio.ui.pages.image_page import ImagePage

    bridges = []

    def open_page():
        services = PageServices.create(ctx)
        page = ImagePage(services)
        qtbot.addWidget(page)
        services.bridge.start_engine()
        page.show()
        bridges.append(services.bridge)
        return page

    yield open_page
    for bridge in bridges:
        bridge.detach()


@pytest.fixture
def tiny_image_model(ctx: AppContext, tiny_models: Callable[[str], Path]) -> str:
    """The tiny diffusion model installed as `tiny`, linked to the session's cached copy."""
    ctx.registry.import_path(tiny_models("diffusion-tiny") / "diffusers", kind="diffusion", model_id="tiny", link=True)
    return "tiny"
