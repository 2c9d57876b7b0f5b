"""Cold CLI text search: whole `latent-studio search "…" --json` processes, against
`python -c "import torch, open_clip"` in the same run, with peak RSS.

The model is a real-size ViT-B-32 open_clip folder in the hub layout (`open_clip_config.json` +
`open_clip_model.safetensors`, random weights: speed does not depend on them), built from
open_clip's own config on first use and cached outside the checkout. Two data homes share it
(imported as a link): a small library of 76 pictures and a 1M-vector library (synthetic clustered
vectors, as in search_latency.py) with its saved approximate index. Each is searched by fresh
processes, first with the fast path (the ONNX text tower, exported once beforehand) and then with
it switched off (`LATENT_STUDIO_TEXT_TOWER=torch`), alternating with the torch import baseline.

Usage: python tests/benchmarks/cold_search.py [--rounds 3] [--skip-1m]
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

REPO = Path(__file__).resolve().parents[2]
if __package__ in (None, ""):
    sys.path.insert(0, str(REPO))
    sys.path.insert(0, str(REPO / "desktop"))

import platformdirs  # noqa: E402

CACHE = Path(os.environ.get("LATENT_STUDIO_BENCH_CACHE") or platformdirs.user_cache_path("latent-studio") / "bench")
ARCH = "ViT-B-32"
SMALL_PICTURES = 76
LARGE_VECTORS = 1_000_000
QUERY = "a red circle"
MODEL = "bench-vit-b-32"  # the id search_latency.py's synthetic vectors are stored under
TEXT_TOWER_ENV = "LATENT_STUDIO_TEXT_TOWER"


def model_folder(arch: str = ARCH) -> Path:
    """An open_clip architecture (ViT-B-32 by default) in open_clip's hub layout with random
    weights (seeded), built once."""
    folder = CACHE / f"{arch.lower()}-random"
    if (folder / "open_clip_model.safetensors").is_file():
        return folder
    import open_clip
    import torch
    from open_clip.push_to_hf_hub import save_config_for_hf
    from safetensors.torch import save_file

    torch.manual_seed(0)
    model = open_clip.create_model(arch, pretrained=None)
    staging = Path(tempfile.mkdtemp(prefix=f".{arch.lower()}-", dir=CACHE if CACHE.is_dir() else None))
    save_config_for_hf(model, staging / "open_clip_config.json", open_clip.get_model_config(arch))
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(staging / "open_clip_model.safetensors"))
    CACHE.mkdir(parents=True, exist_ok=True)
    os.rename(staging, folder)
    return folder


def cli(home: Path, *args: str, extra_env: Optional[dict] = None) -> tuple[float, int, str]:
    """(wall seconds, peak RSS bytes, stdout) of one whole `latent-studio …` process."""
    env = {**os.environ, "LATENT_STUDIO_HOME": str(home), "PYTHONPATH": str(REPO / "desktop")}
    env.pop(TEXT_TOWER_ENV, None)
    # An installed app has its bytecode cached; a machine that forbids writing it would time
    # compiling ~100 modules (0.05-0.1 s) in every process instead.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(extra_env or {})
    return run([sys.executable, "-m", "latentstudio.cli", *args], env)


def run(command: list[str], env: Optional[dict] = None, cwd: Optional[Path] = None) -> tuple[float, int, str]:
    """(wall seconds, peak RSS bytes, stdout) of one whole process."""
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(command, env=env, cwd=cwd, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            raise RuntimeError(f"{command[2:]} failed ({proc.returncode}): {err.read()[-2000:]}")
        return wall, usage.ru_maxrss * 1024, out.read()


def import_torch_open_clip() -> tuple[float, int, str]:
    return run([sys.executable, "-c", "import torch, open_clip"])


def small_home(model: Path) -> Path:
    """76 pictures (coloured shapes, 512 px JPEGs) indexed with the model; indexing also exported
    the text tower."""
    home = CACHE / "home-small"
    if (home / ".ready").is_file():
        return home
    from tests.support import tiny_clip
    import random

    shutil.rmtree(home, ignore_errors=True)
    pictures = home / "pictures"
    pictures.mkdir(parents=True)
    rng = random.Random(76)
    classes = tiny_clip.classes()
    for i in range(SMALL_PICTURES):
        colour, shape = classes[i % len(classes)]
        tiny_clip.shape_image(colour, shape, rng, size=512).save(pictures / f"{colour}-{shape}-{i}.jpg", quality=90)
    cli(home, "models", "import", str(model), "--kind", "clip", "--id", MODEL, "--link")
    cli(home, "index", str(pictures))
    (home / ".ready").write_text("")
    return home


def large_home(model: Path) -> Path:
    """1M images with clustered vectors and the saved approximate index, as a library of that size
    has after its first search; one search with the torch tower made the export."""
    from search_latency import Vectors, fill
    from latentstudio.library.photo_library import Library
    from latentstudio.paths import Paths

    home = CACHE / "home-1m"
    if (home / ".ready").is_file():
        return home
    shutil.rmtree(home, ignore_errors=True)
    cli(home, "models", "import", str(model), "--kind", "clip", "--id", MODEL, "--link")
    library = Library(Paths(home).ensure())
    started = time.perf_counter()
    fill(library, Vectors(LARGE_VECTORS, "clustered"), LARGE_VECTORS)
    library.vector_index(MODEL)
    library.save_index(MODEL)
    library.close()
    print(f"built the 1M library in {time.perf_counter() - started:.0f} s")
    cli(home, "search", QUERY, "--limit", "1")
    (home / ".ready").write_text("")
    return home


def median(values: list[float]) -> float:
    return statistics.median(values)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-1m", action="store_true")
    parser.add_argument("--prepare", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.prepare:  # in a child: this process stays small, and a child's peak RSS starts from
        model = model_folder()  # its parent's at fork, so the figures below stay the searches' own
        homes = {"small": small_home(model)}
        if not args.skip_1m:
            homes["1M"] = large_home(model)
        print(json.dumps({name: str(home) for name, home in homes.items()}))
        return 0
    print(f"load before: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    prepared = run([sys.executable, __file__, "--prepare"] + (["--skip-1m"] if args.skip_1m else []))[2]
    homes = {name: Path(home) for name, home in json.loads(prepared.strip().splitlines()[-1]).items()}
    search = ("search", QUERY, "--json", "--limit", "20")
    torch_env = {TEXT_TOWER_ENV: "torch"}
    for home in homes.values():  # warm the OS file cache for every side alike
        cli(home, *search)
        cli(home, *search, extra_env=torch_env)
    import_torch_open_clip()
    samples: dict[str, list[tuple[float, int]]] = {}
    answers: dict[str, set[str]] = {}
    for _ in range(args.rounds):
        wall, rss, _ = import_torch_open_clip()
        samples.setdefault("import torch, open_clip", []).append((wall, rss))
        for name, home in homes.items():
            for tower, env in (("onnxruntime", None), ("torch", torch_env)):
                wall, rss, out = cli(home, *search, extra_env=env)
                key = f"{name} library, {tower} text tower"
                samples.setdefault(key, []).append((wall, rss))
                answers.setdefault(name, set()).add(json.dumps([h["path"] for h in json.loads(out)[:10]]))
    baseline = median([w for w, _ in samples["import torch, open_clip"]])
    for key, runs in samples.items():
        walls = ", ".join(f"{w:.2f}" for w, _ in runs)
        peak = max(r for _, r in runs) / 2**20
        ratio = median([w for w, _ in runs]) / baseline
        print(f"{key:<40} median {median([w for w, _ in runs]):5.2f} s ({walls}); {ratio:.2f}x the import; "
              f"peak RSS {peak:.0f} MiB")
    for name, seen in answers.items():
        print(f"{name} library: top-10 {'identical' if len(seen) == 1 else 'DIFFERENT'} across towers and rounds")
    print(f"load after: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
