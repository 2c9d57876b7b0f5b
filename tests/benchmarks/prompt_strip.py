"""The Image page's prompt strip: the cost of a keystroke, and prompt-to-pictures latency.

    python tests/benchmarks/prompt_strip.py [--pictures N] [--queries N]

Offscreen Qt, a real Image page; a ViT-B-32 CLIP (random weights) preloaded in the engine's
cache under an installed id; a library of N small JPEGs indexed with it, CPU float32.
- per keystroke: the time one key press takes in the prompt box with the strip attached
  (it only restarts the debounce timer), against the same box with the strip disconnected;
- per query: from the debounce timer firing (the search is queued) to the strip showing its
  thumbnails (text encode, ranking, thumbnails made off the GUI thread), the debounce itself
  (350 ms) not included.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
for entry in (ROOT, ROOT / "desktop"):  # this checkout, not an installed copy
    if str(entry) not in sys.path:
        sys.path.insert(0, str(entry))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

WORDS = "a red lighthouse on a cliff at sunset with clouds over the sea".split()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pictures", type=int, default=120)
    parser.add_argument("--queries", type=int, default=8)
    args = parser.parse_args()

    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from latentstudio.context import AppContext
    from latentstudio.engine import DeviceInfo
    from latentstudio.library import add_folders, submit_index
    from latentstudio.models.clip_loader import cache_key, load_clip_random
    from latentstudio.paths import Paths
    from latentstudio.ui.page_services import PageServices
    from latentstudio.ui.pages.image_page import ImagePage
    from tests.support import tiny_clip
    from tests.support.model_store import tiny_model

    app = QApplication.instance() or QApplication([])
    home = Path(tempfile.mkdtemp(prefix="latent-bench-strip-"))
    ctx = AppContext(Paths(home), device=DeviceInfo.cpu("benchmark on the CPU"))
    services = PageServices.create(ctx)
    try:
        print(f"load {os.getloadavg()[0]:.2f}")
        ctx.registry.import_path(tiny_model("diffusion-tiny") / "diffusers", kind="diffusion", model_id="tiny",
                                 link=True)
        ctx.registry.import_path(tiny_model("clip-tiny"), kind="clip", model_id="vitb32", link=True)
        clip = load_clip_random("ViT-B-32")

        def preload(job) -> None:
            with job.models.use(cache_key("vitb32"), lambda: clip):
                pass

        services.bridge.start_engine()
        ctx.engine.submit(preload, name="preload").result()
        photos = home / "photos"
        photos.mkdir()
        rng = random.Random(0)
        for index in range(args.pictures):
            colour, shape = rng.choice(tiny_clip.classes())
            tiny_clip.shape_image(colour, shape, rng, size=160).save(photos / f"{index:04d}.jpg", quality=90)
        add_folders(ctx, [photos])
        ctx.library.scan()
        started = time.perf_counter()
        submit_index(ctx).result()
        print(f"{args.pictures} pictures indexed with ViT-B-32 in {time.perf_counter() - started:.1f} s")

        page = ImagePage(services)
        page.resize(1400, 900)
        page.show()
        app.processEvents()
        strip = page.strip

        def keystrokes(text: str) -> list[float]:
            page.prompt.clear()
            times = []
            for char in text:
                begun = time.perf_counter()
                QTest.keyClick(page.prompt, char)
                times.append(time.perf_counter() - begun)
            assert page.prompt.toPlainText() == text, page.prompt.toPlainText()
            return times

        with_strip = keystrokes("a lighthouse at sunset over the sea")
        page.prompt.textChanged.disconnect()
        without = keystrokes("a lighthouse at sunset over the sea")
        print(f"per keystroke: median {statistics.median(with_strip) * 1000:.2f} ms with the strip, "
              f"{statistics.median(without) * 1000:.2f} ms without (max {max(with_strip) * 1000:.2f} ms)")

        latencies = []
        for query in range(args.queries + 1):
            text = " ".join(rng.sample(WORDS, 4))
            strip._wanted = text
            shown_before = strip.list.toolTip()
            begun = time.perf_counter()
            strip._search()  # what the debounce timer does when it fires
            deadline = begun + 60
            while strip.list.toolTip() == shown_before and time.perf_counter() < deadline:
                app.processEvents()
                time.sleep(0.001)
            if query:  # the first also reads the vectors into memory
                latencies.append(time.perf_counter() - begun)
        print(f"per query (timer fired → thumbnails shown): median {statistics.median(latencies) * 1000:.0f} ms, "
              f"max {max(latencies) * 1000:.0f} ms over {len(latencies)} queries; plus the {350} ms debounce")
        print(f"load after {os.getloadavg()[0]:.2f}")
    finally:
        services.bridge.detach()
        ctx.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
