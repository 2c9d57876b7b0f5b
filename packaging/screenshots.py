"""Screenshots of the real window for the docs: `.venv/bin/python packaging/screenshots.py`.

Runs the app's own MainWindow on an X server (it starts Xvfb itself when there is no DISPLAY;
`apt-get install xvfb`), with a fresh temporary data home, visits every page and saves
`docs/screenshots/<state>-<page>.png`. Two states:

- `first-run`: nothing installed, as a new user sees it (each page's missing-model card);
- `demo`: the tiny test models from `tests/support/` installed (the shapes CLIP, the tiny
  diffusion and language models) and a folder of generated shape pictures indexed, so each page
  shows its tools. The tiny models are test fixtures: their output is not what real models give.

Retake after UI changes; `--state` picks one state, `--out` another folder.

`--installed EXECUTABLE` instead starts an installed build (e.g. the .deb's
/usr/bin/latent-studio) with an empty data home on the X server and saves what the screen shows
as `installed-first-run.png`: the first start of a packaged app, as a user sees it.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Optional

REPO = Path(__file__).resolve().parents[1]
SCREEN = (1600, 1000)
WINDOW = (1440, 880)
DEMO_PICTURES = 36
DEMO_QUERY = "a red circle"  # the tiny CLIP knows colours and shapes


def start_xvfb() -> tuple[subprocess.Popen, str]:
    """An Xvfb server on a free display number (Xvfb picks it and writes it to a pipe)."""
    if shutil.which("Xvfb") is None:
        raise SystemExit("no DISPLAY and no Xvfb: install it (apt-get install xvfb) or run under a desktop")
    read_end, write_end = os.pipe()
    process = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_end), "-screen", "0", f"{SCREEN[0]}x{SCREEN[1]}x24", "-nolisten", "tcp"],
        pass_fds=(write_end,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        number = pipe.readline().strip()
    if not number:
        process.kill()
        raise SystemExit("Xvfb did not start")
    return process, f":{number}"


def write_shape_pictures(folder: Path, count: int) -> None:
    """Coloured shapes like those the tiny CLIP was trained on, at photo-like sizes."""
    from tests.support.tiny_clip import classes, shape_image

    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(7)
    labels = classes()
    for index in range(count):
        colour, shape = labels[index % len(labels)]
        image = shape_image(colour, shape, rng).resize((384, 384))
        image.save(folder / f"{index:03d}-{colour}-{shape}.jpg", quality=90)


def write_camera_files(folder: Path) -> None:
    """What a camera and a phone leave beside the pictures: a RAW, a RAW+JPEG pair, a video of three
    scenes (found at its moments), and a picture rated 4 stars in a Lightroom sidecar."""
    from tests.support.camera_files import make_dng, make_video, xmp_sidecar
    from tests.support.tiny_clip import shape_image

    def shape(colour: str, kind: str, seed: int):
        return shape_image(colour, kind, random.Random(seed)).resize((384, 384))

    make_dng(folder / "DSC_0101.NEF", shape("green", "triangle", 1), preview=384)
    make_dng(folder / "IMG_0200.CR2", shape("yellow", "circle", 2), preview=384)
    shape("yellow", "circle", 2).save(folder / "IMG_0200.JPG", quality=90)
    make_video(folder / "harbour-walk.mp4", [(shape("red", "circle", 3), 4.0), (shape("blue", "square", 4), 4.0),
                                             (shape("yellow", "triangle", 5), 4.0)])
    shape("blue", "circle", 6).save(folder / "DSC_0300.jpg", quality=90)
    (folder / "DSC_0300.xmp").write_text(xmp_sidecar(["lighthouse"], rating=4))


def prepare_demo(ctx, workdir: Path) -> None:
    """Install the tiny test models and index a folder of pictures, through the app's own core."""
    from latentstudio.library import service
    from tests.support import make_models
    from tests.support.model_store import tiny_model

    ctx.registry.import_path(tiny_model("clip-shapes"), kind="clip", model_id="clip-shapes")
    ctx.registry.import_path(tiny_model("diffusion-tiny") / "diffusers", kind="diffusion", model_id="tiny-sd")
    if "llm-tiny" in make_models.BUILDERS:
        ctx.registry.import_path(tiny_model("llm-tiny"), kind="llm", model_id="tiny-coder")
    pictures = workdir / "Pictures"
    write_shape_pictures(pictures, DEMO_PICTURES)
    write_camera_files(pictures)
    service.add_folders(ctx, [pictures])
    service.scan_library(ctx, [pictures])
    service.submit_index(ctx).result(timeout=600)


def settle(app, milliseconds: int) -> None:
    """Let Qt lay out, paint and deliver queued engine events for a while."""
    deadline = time.monotonic() + milliseconds / 1000
    while time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.02)


def wait_for(app, condition: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        app.processEvents()
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def demo_search(app, page, text: str = DEMO_QUERY) -> None:
    """Type a query into the Search page (found by object name) and wait for its results."""
    from PySide6.QtWidgets import QLabel, QLineEdit

    query = page.findChild(QLineEdit, "search-query")
    summary = page.findChild(QLabel, "search-summary")
    if query is None or summary is None:
        print("screenshots: the Search page has no search-query/search-summary widget; no demo query")
        return
    query.setText(text)
    if not wait_for(app, lambda: bool(summary.text()), 60):
        print("screenshots: no search results within 60 s")


def capture_pages(state: str, out: Path, home: Path, workdir: Path, size: tuple[int, int] = WINDOW,
                  theme: Optional[str] = None, query: str = DEMO_QUERY) -> list[Path]:
    os.environ["LATENT_STUDIO_HOME"] = str(home)
    from PySide6.QtWidgets import QApplication

    from latentstudio.context import AppContext
    from latentstudio.ui.main_window import PAGES, MainWindow

    ctx = AppContext()
    saved: list[Path] = []
    try:
        if state == "demo":
            prepare_demo(ctx, workdir)
        app = QApplication.instance() or QApplication(["latent-studio"])
        app.setApplicationName("Latent Studio")
        if theme:
            ctx.settings.update(theme=theme)
        window = MainWindow(ctx)
        window.resize(*size)
        window.show()
        window.attach_engine()
        device_shown: Callable[[], bool] = lambda: "starting" not in window.device_label.text()
        wait_for(app, device_shown, 120)
        for name in [spec.name for spec in PAGES]:
            page = window.show_page(name)
            if state == "demo" and name == "search":
                demo_search(app, page, query)
            settle(app, 1500)
            path = out / f"{state}-{name}{'-' + theme if theme else ''}.png"
            if not window.grab().save(str(path)):
                raise SystemExit(f"could not write {path}")
            saved.append(path)
        window.close()
        window.bridge.detach()
        settle(app, 200)
    finally:
        ctx.close()
    return saved


def capture_installed(executable: Path, out: Path, wait_s: float) -> Path:
    """Run an installed build on the X server with a fresh data home and grab the screen."""
    from PIL import ImageGrab

    with tempfile.TemporaryDirectory(prefix="latent-studio-installed-") as scratch:
        env = dict(os.environ, LATENT_STUDIO_HOME=str(Path(scratch) / "home"))
        process = subprocess.Popen([str(executable)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            time.sleep(wait_s)
            if process.poll() is not None:
                raise SystemExit(f"{executable} exited with {process.returncode}: {process.stderr.read()[-2000:]!r}")
            path = out / "installed-first-run.png"
            screen = ImageGrab.grab(xdisplay=os.environ["DISPLAY"])
            # No window manager: the window sits at the top left on a black screen; keep the window.
            window = screen.convert("L").point(lambda v: 255 if v else 0).getbbox()
            (screen.crop(window) if window else screen).save(path)
        finally:
            process.terminate()
            process.wait(timeout=30)
    return path


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--state", choices=("first-run", "demo"), action="append",
                        help="default: both")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    parser.add_argument("--installed", type=Path, metavar="EXECUTABLE",
                        help="screenshot this installed build's first start instead")
    parser.add_argument("--wait", type=float, default=20.0, help="seconds to let --installed start")
    parser.add_argument("--size", default=f"{WINDOW[0]}x{WINDOW[1]}", help="window size, WxH")
    parser.add_argument("--theme", choices=("light", "dark"), help="colour scheme (default: the system's)")
    parser.add_argument("--query", default=DEMO_QUERY, help="what the demo types into Search")
    args = parser.parse_args(argv)
    states = args.state or ["first-run", "demo"]
    sys.path[:0] = [str(REPO), str(REPO / "desktop")]
    args.out.mkdir(parents=True, exist_ok=True)

    xvfb = None
    if not os.environ.get("DISPLAY"):
        xvfb, os.environ["DISPLAY"] = start_xvfb()
    os.environ["QT_QPA_PLATFORM"] = "xcb"
    # No HF_HUB_OFFLINE here: the pages must show what a user sees (Download offered); nothing
    # downloads unless clicked.
    try:
        if args.installed is not None:
            print(capture_installed(args.installed, args.out, args.wait))
            return 0
        for state in states:
            # One process per state: each needs its own data home and QApplication.
            if len(states) > 1:
                command = [sys.executable, __file__, "--state", state, "--out", str(args.out), "--size", args.size]
                if args.theme:
                    command += ["--theme", args.theme]
                command += ["--query", args.query]
                subprocess.run(command, check=True)
                continue
            with tempfile.TemporaryDirectory(prefix="latent-studio-shots-") as scratch:
                size = tuple(int(n) for n in args.size.lower().split("x"))
                for path in capture_pages(state, args.out, Path(scratch) / "home", Path(scratch), size, args.theme,
                                          args.query):
                    print(path)
    finally:
        if xvfb is not None:
            xvfb.terminate()
            xvfb.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
