"""Side by side with rclip 4 (pure onnxruntime, no torch): whole processes on the same photos and
the same model, alternating, with peak RSS.

The model is ViT-B-32-256 (rclip's architecture) with random weights (seeded; speed does not
depend on them): an open_clip hub folder for us, and the same torch model exported into rclip's
data layout for rclip (`ViT-B-32-256-datacomp_s34b_b86k/visual.onnx` and `textual.onnx`, input
"input", open_clip's tokenizer vocabulary, stand-ins for its licence files), so rclip finds
everything it needs and downloads nothing. rclip is installed into a scratch virtual environment
from PyPI (`--rclip-venv`; it needs Python >= 3.12 — its numpy pin has no 3.11 build — found as
python3.12 or python3.13 on PATH or given with `--python`). Our side uses this checkout.

Cases, each run on a fresh data home / rclip data folder (the model linked, our ONNX exports made):
  index N × 12 MP   `latent-studio index DIR` / `rclip -f QUERY` in DIR (rclip indexes, then answers)
  index M × 2 MP    the same on more, smaller photos
  cold query        `latent-studio search QUERY` / `rclip -n -f QUERY` on the indexed N photos

Usage: python tests/benchmarks/peer_rclip.py [--photos 96] [--small 1000] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from cold_search import CACHE, cli, model_folder, run  # noqa: E402
from index_fixed_cost import base_home  # noqa: E402
from index_fixed_cost import photos as big_photos  # noqa: E402

ARCH = "ViT-B-32-256"
MODEL = "bench-vit-b-32-256"
RCLIP = "rclip==4.0.8"
RCLIP_MODEL_DIR = "ViT-B-32-256-datacomp_s34b_b86k"
RCLIP_LEGAL = ("LICENSE", "OPENAI-CLIP-MIT.txt", "README.md", "THIRD_PARTY_NOTICES.md")
QUERY = "a red circle"
SMALL_SIZE = (1600, 1200)  # 2 megapixels


def rclip_venv(path: Path, python: Optional[str]) -> Path:
    """A virtual environment with rclip installed from PyPI (made once)."""
    executable = path / "bin" / "rclip"
    if executable.is_file():
        return executable
    python = python or shutil.which("python3.12") or shutil.which("python3.13")
    if python is None:
        raise SystemExit("rclip 4 needs Python >= 3.12: give one with --python")
    subprocess.run([python, "-m", "venv", str(path)], check=True)
    subprocess.run([str(path / "bin" / "pip"), "install", "-q", RCLIP], check=True)
    return executable


def small_photos(count: int) -> Path:
    """`count` 2 MP JPEGs like indexing.py's 12 MP ones (gradients and noise), made once."""
    import numpy as np
    from PIL import Image

    folder = CACHE / f"photos-2mp-{count}"
    if (folder / ".ready").is_file():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    rng = np.random.default_rng(2)
    w, h = SMALL_SIZE
    base = np.asarray(Image.fromarray(rng.integers(0, 255, (h // 50, w // 50, 3), dtype=np.uint8))
                      .resize(SMALL_SIZE, Image.Resampling.BICUBIC), dtype=np.int16)
    for i in range(count):
        noise = rng.integers(-12, 12, (h, w, 1), dtype=np.int16)
        shifted = np.roll(base, shift=(i * 17) % h, axis=0)
        Image.fromarray(np.clip(shifted + noise, 0, 255).astype(np.uint8)).save(folder / f"small{i:04d}.jpg", quality=90)
    (folder / ".ready").write_text("")
    return folder


def rclip_template(model: Path) -> Path:
    """rclip's data folder holding the same random model, exported as rclip's files are."""
    folder = CACHE / "rclip-data"
    if (folder / ".ready").is_file():
        return folder
    import importlib.util
    import warnings

    import torch

    from latentstudio.models.clip_loader import load_clip_folder

    shutil.rmtree(folder, ignore_errors=True)
    target = folder / RCLIP_MODEL_DIR
    target.mkdir(parents=True)
    for name in RCLIP_LEGAL:
        (folder / name).write_text("Stand-in for a benchmark: random weights, not rclip's model.\n")
    (folder / "tokenizer").mkdir()
    vocab = Path(next(iter(importlib.util.find_spec("open_clip").submodule_search_locations))) / "bpe_simple_vocab_16e6.txt.gz"
    shutil.copy(vocab, folder / "tokenizer" / vocab.name)
    clip = load_clip_folder(model)

    class Tower(torch.nn.Module):
        """One of the model's towers, unnormalised features out, as rclip's exports give them."""

        def __init__(self, encode_name: str) -> None:
            super().__init__()
            self.model = clip.model
            self.encode_name = encode_name

        def forward(self, batch: torch.Tensor) -> torch.Tensor:
            return getattr(self.model, self.encode_name)(batch)

    size = clip.spec.size
    with warnings.catch_warnings(), torch.enable_grad():  # no fused attention fast path: exportable
        warnings.simplefilter("ignore")
        for module, example, name in ((Tower("encode_image"), torch.zeros(2, 3, *size), "visual.onnx"),
                                      (Tower("encode_text"), torch.zeros(2, 77, dtype=torch.int64), "textual.onnx")):
            torch.onnx.export(module.eval(), (example,), str(target / name), dynamo=False, input_names=["input"],
                              output_names=["output"], dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
                              opset_version=17)
    (folder / ".ready").write_text("")
    return folder


def rclip_env(data: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RCLIP_")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(RCLIP_DATADIR=str(data), HF_HUB_OFFLINE="1")
    return env


def fresh_copy(source: Path, scratch: Path, name: str) -> Path:
    target = scratch / name
    shutil.copytree(source, target, symlinks=True, ignore=shutil.ignore_patterns(".ready", RCLIP_MODEL_DIR))
    if (source / RCLIP_MODEL_DIR).is_dir():
        (target / RCLIP_MODEL_DIR).symlink_to(source / RCLIP_MODEL_DIR)  # rclip reads it; nothing copied
    return target


def index_ours(base: Path, folder: Path, scratch: Path) -> tuple[float, int, Path]:
    home = fresh_copy(base, scratch, f"ours-{time.monotonic_ns()}")
    wall, rss, out = cli(home, "index", str(folder), "--json")
    assert json.loads(out)["encoder"] == "onnxruntime", out
    return wall, rss, home


def index_rclip(rclip: Path, template: Path, folder: Path, scratch: Path) -> tuple[float, int, Path]:
    data = fresh_copy(template, scratch, f"rclip-{time.monotonic_ns()}")
    wall, rss, _ = run([str(rclip), "-f", QUERY], rclip_env(data), cwd=folder)
    return wall, rss, data


def summary(label: str, runs: dict[str, list[tuple[float, int]]]) -> None:
    medians = {tool: statistics.median(w for w, _ in samples) for tool, samples in runs.items()}
    peaks = {tool: max(r for _, r in samples) / 2**20 for tool, samples in runs.items()}
    walls = {tool: ", ".join(f"{w:.2f}" for w, _ in samples) for tool, samples in runs.items()}
    # Each of our runs against the rclip run right after it: the machine's pace drifts between pairs.
    pairs = [ours / theirs for (ours, _), (theirs, _) in zip(runs["ours"], runs["rclip"])]
    print(f"{label}: ours {medians['ours']:.2f} s ({walls['ours']}), peak {peaks['ours']:.0f} MiB | "
          f"rclip {medians['rclip']:.2f} s ({walls['rclip']}), peak {peaks['rclip']:.0f} MiB | "
          f"ours/rclip {medians['ours'] / medians['rclip']:.2f}x time (pair by pair: median "
          f"{statistics.median(pairs):.2f}, {', '.join(f'{r:.2f}' for r in pairs)}), "
          f"{peaks['ours'] / peaks['rclip']:.2f}x memory")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=96, help="12 MP photos")
    parser.add_argument("--small", type=int, default=1000, help="2 MP photos (0: skip)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--rclip-venv", type=Path, default=CACHE / "rclip-venv")
    parser.add_argument("--python", help="a Python >= 3.12 for rclip's virtual environment")
    parser.add_argument("--prepare", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.prepare:  # in a child: this process stays small (a child's peak RSS starts from its parent's)
        model = model_folder(ARCH)
        made = {"ours": str(base_home(model, MODEL, "home-exported-256")), "rclip": str(rclip_template(model)), "big": str(big_photos(args.photos))}
        if args.small:
            made["small"] = str(small_photos(args.small))
        print(json.dumps(made))
        return 0
    rclip = rclip_venv(args.rclip_venv, args.python)
    print(f"load before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    made = json.loads(run([sys.executable, __file__, "--prepare", "--photos", str(args.photos), "--small",
                             str(args.small)], {**os.environ})[2].strip().splitlines()[-1])
    ours, template = Path(made["ours"]), Path(made["rclip"])
    cases = {f"index {args.photos} x 12 MP": Path(made["big"])}
    if args.small:
        cases[f"index {args.small} x 2 MP"] = Path(made["small"])
    results: dict[str, dict[str, list[tuple[float, int]]]] = {}
    with tempfile.TemporaryDirectory(prefix="latent-peer-") as scratch_dir:
        scratch = Path(scratch_dir)
        index_ours(ours, Path(made["big"]), scratch)  # warm the OS file cache for both alike
        index_rclip(rclip, template, Path(made["big"]), scratch)
        indexed: dict[str, Path] = {}
        for _ in range(args.rounds):
            for case, folder in cases.items():
                for tool in ("ours", "rclip"):
                    if tool == "ours":
                        wall, rss, home = index_ours(ours, folder, scratch)
                    else:
                        wall, rss, home = index_rclip(rclip, template, folder, scratch)
                    results.setdefault(case, {}).setdefault(tool, []).append((wall, rss))
                    if folder == Path(made["big"]):
                        indexed[tool] = home
        query = f"cold query, {args.photos} photos"
        for _ in range(args.rounds + 1):
            for tool in ("ours", "rclip"):
                if tool == "ours":
                    wall, rss, _ = cli(indexed["ours"], "search", QUERY, "--json", "--limit", "10")
                else:
                    wall, rss, _ = run([str(rclip), "-n", "-f", QUERY], rclip_env(indexed["rclip"]), cwd=Path(made["big"]))
                results.setdefault(query, {}).setdefault(tool, []).append((wall, rss))
    for label, runs in results.items():
        summary(label, runs)
    print(f"load after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
