"""Whole `latent-studio index` processes on the CPU: the onnxruntime picture tower against the torch
one (`LATENT_STUDIO_IMAGE_TOWER=torch`, how every index ran before), alternating, with peak RSS.

The model is the real-size ViT-B-32 open_clip folder with random weights that cold_search.py
builds (speed does not depend on the weights). A base data home links it and has both towers
exported (made by a first index of two pictures); every measured run starts from a fresh copy of
that home, so each one is a user's first index of that many new photos into an existing library:

  add 2      two new 12-megapixel JPEGs (not among the N): the fixed cost paid many times a day
  add N      N new 12-megapixel JPEGs (default 96)

Usage: python tests/benchmarks/index_fixed_cost.py [--photos 96] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from cold_search import CACHE, cli, model_folder, run  # noqa: E402
from indexing import make_photos  # noqa: E402
from PIL import Image  # noqa: E402

IMAGE_TOWER_ENV = "LATENT_STUDIO_IMAGE_TOWER"
MODEL = "bench-vit-b-32"


def photos(count: int, offset: int = 0) -> Path:
    """`count` 12 MP JPEGs (after the first `offset` ones), made once and cached."""
    folder = CACHE / f"photos-12mp-{count}-{offset}"
    if not (folder / ".ready").is_file():
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        for path in make_photos(folder, offset + count)[:offset]:
            path.unlink()
        (folder / ".ready").write_text("")
    return folder


def base_home(model: Path, model_id: str = MODEL, name: str = "home-exported") -> Path:
    """The model linked and both towers exported (by a first index of two pictures)."""
    home = CACHE / name
    if (home / ".ready").is_file():
        return home
    shutil.rmtree(home, ignore_errors=True)
    cli(home, "models", "import", str(model), "--kind", "clip", "--id", model_id, "--link")
    from latentstudio.config import load_settings, save_settings
    from latentstudio.paths import Paths

    settings_file = Paths(home).settings_file
    settings = load_settings(settings_file)
    settings.update(device="cpu")  # what is measured: indexing on the CPU, on any machine
    save_settings(settings, settings_file)
    first = CACHE / f"photos-first-{model_id}"
    shutil.rmtree(first, ignore_errors=True)
    first.mkdir(parents=True)
    for i, colour in enumerate(("teal", "orange")):  # other pixels than the measured photos: no vector reused
        Image.new("RGB", (640, 480), colour).save(first / f"first{i}.jpg")
    cli(home, "index", str(first))
    status = json.loads(cli(home, "doctor", "--json")[2])
    assert status["picture_encoding"][model_id]["ready"], status["picture_encoding"]
    (home / ".ready").write_text("")
    return home


def index_once(base: Path, folder: Path, tower: str) -> tuple[float, int, dict]:
    """(wall seconds, peak RSS bytes, the CLI's summary) of one index run on a fresh copy of `base`."""
    with tempfile.TemporaryDirectory(prefix="latent-bench-") as scratch:
        home = Path(scratch) / "home"
        shutil.copytree(base, home, symlinks=True)
        env = {IMAGE_TOWER_ENV: "torch"} if tower == "torch" else {IMAGE_TOWER_ENV: ""}
        wall, rss, out = cli(home, "index", str(folder), "--json", extra_env=env)
    return wall, rss, json.loads(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=96)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--prepare", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.prepare:  # in a child: this process stays small (a child's peak RSS starts from its parent's)
        model = model_folder()
        print(json.dumps({"home": str(base_home(model)), "two": str(photos(2, offset=args.photos)),
                          "many": str(photos(args.photos))}))
        return 0
    print(f"load before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    prepared = json.loads(run([sys.executable, __file__, "--prepare", "--photos", str(args.photos)])[2].strip().splitlines()[-1])
    base = Path(prepared["home"])
    cases = {"add 2": Path(prepared["two"]), f"add {args.photos}": Path(prepared["many"])}
    for folder in cases.values():  # warm the OS file cache for both sides alike
        index_once(base, folder, "onnxruntime")
    samples: dict[tuple[str, str], list[tuple[float, int, dict]]] = {}
    for _ in range(args.rounds):
        for case, folder in cases.items():
            for tower in ("onnxruntime", "torch"):
                samples.setdefault((case, tower), []).append(index_once(base, folder, tower))
    for case in cases:
        medians = {}
        for tower in ("onnxruntime", "torch"):
            runs = samples[(case, tower)]
            medians[tower] = statistics.median(w for w, _, _ in runs)
            walls = ", ".join(f"{w:.2f}" for w, _, _ in runs)
            rates = ", ".join(f"{s['images_per_second']}" for _, _, s in runs)
            encoders = {s["encoder"] for _, _, s in runs}
            print(f"{case:>8}, {tower:<11} median {medians[tower]:6.2f} s ({walls}); peak RSS "
                  f"{max(r for _, r, _ in runs) / 2**20:.0f} MiB; encoding {rates} img/s; encoder {encoders}")
        print(f"{case:>8}: onnxruntime / torch {medians['onnxruntime'] / medians['torch']:.2f}x")
    print(f"load after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
