"""Cluster indexing overhead, and the client's commit rate, in one run.

  local     the library's own index job (decode pool + batched encode on the inference thread)
  cluster   `index --cluster local`: the same photos through a local Ray runtime with N encoder
            worker processes (Ray Data: decode → CLIP actors → vectors streamed back and committed)
  decode    the workers' decode step alone (one process, one thread): images per second per core
  commit    LibraryStore.record_batch alone: how many vectors per second the client can take in,
            the ceiling of any cluster however large

Both indexing runs use the same 12 MP JPEGs and ViT-B-32 (random weights, written in open_clip's
hub layout so both load it as an installed model). Rates are given end to end (from the first
progress of the job) and steady (from the first committed batch to the last), because the
cluster pays a fixed start-up (actors, model load) that a large archive amortises.

Usage: python tests/benchmarks/cluster_index.py [--images 48] [--workers 2] [--commit-vectors 100000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
if __package__ in (None, ""):
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "desktop"))
# The local Ray runtime's worker processes import this checkout too.
os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT / "desktop"), str(ROOT), os.environ.get("PYTHONPATH", "")])

from latentstudio.context import AppContext  # noqa: E402
from latentstudio.engine import DeviceInfo, EventKind, JobEvent  # noqa: E402
from latentstudio.library import add_folders, submit_index  # noqa: E402
from latentstudio.library.cluster_index import ClusterPlan, submit_cluster_index  # noqa: E402
from latentstudio.library.cluster_workers import decode_batch  # noqa: E402
from latentstudio.models.clip_loader import PixelSpec  # noqa: E402
from latentstudio.library.store import DecodedInfo, LibraryStore  # noqa: E402
from latentstudio.paths import Paths  # noqa: E402
from tests.benchmarks.indexing import SIZE, make_photos  # noqa: E402

OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)


def write_model(folder: Path) -> Path:
    """ViT-B-32 with random weights in open_clip's hub layout."""
    import open_clip
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    config = {"model_cfg": open_clip.get_model_config("ViT-B-32"),
              "preprocess_cfg": {"mean": list(OPENAI_MEAN), "std": list(OPENAI_STD)}}
    (folder / "open_clip_config.json").write_text(json.dumps(config))
    model = open_clip.create_model("ViT-B-32", pretrained=None)
    save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()},
              str(folder / "open_clip_model.safetensors"))
    return folder


class Clock:
    """(time, images done) at every progress event of a job."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.marks: list[tuple[float, float]] = []

    def startup(self) -> float:
        """Seconds from submitting the job to its first committed batch (model load, actors)."""
        return self.marks[0][0] - self.start

    def __call__(self, event: JobEvent) -> None:
        if event.kind is EventKind.PROGRESS and event.payload.done:
            self.marks.append((time.perf_counter(), float(event.payload.done)))

    def steady(self) -> float:
        (t0, d0), (t1, d1) = self.marks[0], self.marks[-1]
        return (d1 - d0) / (t1 - t0) if t1 > t0 else float("nan")


def index_once(home: Path, photos: Path, model: Path, plan: ClusterPlan | None,
               batch: int) -> tuple[float, float, float, int]:
    ctx = AppContext(Paths(home).ensure(), device=DeviceInfo.cpu("benchmark on the CPU"))
    try:
        ctx.registry.import_path(model, kind="clip", model_id="bench", link=True)
        add_folders(ctx, [photos])
        ctx.library.scan()
        clock = Clock()
        start = clock.start
        if plan is None:
            handle = submit_index(ctx, on_event=clock, batch_size=batch)
        else:
            handle = submit_cluster_index(ctx, plan, on_event=clock)
        report = handle.result()
        end_to_end = report.encoded / (time.perf_counter() - start)
        return end_to_end, clock.steady(), clock.startup(), report.encoded
    finally:
        ctx.close()


def decode_rate(photos: list[Path]) -> float:
    spec = PixelSpec(size=(224, 224), mean=OPENAI_MEAN, std=OPENAI_STD)
    start = time.perf_counter()
    for i in range(0, len(photos), 16):
        chunk = photos[i:i + 16]
        out = decode_batch({"id": np.arange(len(chunk)), "path": np.array([str(p) for p in chunk], dtype=object)}, spec)
        assert out["ok"].all()
    return len(photos) / (time.perf_counter() - start)


def commit_rate(folder: Path, count: int, dim: int, batch: int) -> float:
    store = LibraryStore(folder / "library.sqlite")
    folder_id = store.add_folder(folder).id
    with store.transaction() as db:
        for i in range(count):
            store.upsert_image(db, folder_id, str(folder / f"{i:07d}.jpg"), 1000, 0.0, f"{i:032x}", "pending")
    rows = store.pending("bench")
    vectors = np.random.default_rng(0).normal(size=(batch, dim)).astype(np.float32)
    info = DecodedInfo(4000, 3000, None, "jpeg")
    start = time.perf_counter()
    for i in range(0, len(rows), batch):
        chunk = rows[i:i + batch]
        store.record_batch("bench", [(row, info, vectors[k]) for k, row in enumerate(chunk)], [])
    rate = len(rows) / (time.perf_counter() - start)
    store.close()
    return rate


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=96)
    parser.add_argument("--batch", type=int, default=8, help="images per encode batch, both ways")
    parser.add_argument("--workers", type=int, default=2, help="encoder worker processes of the local cluster")
    parser.add_argument("--commit-vectors", type=int, default=100_000)
    parser.add_argument("--photos", type=Path, help="keep the generated JPEGs here and reuse them")
    args = parser.parse_args()
    import ray

    print(f"load before: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    print(f"cores: {os.cpu_count()}")
    with tempfile.TemporaryDirectory(prefix="latent-bench-") as tmp:
        root = Path(tmp)
        photos = args.photos or root / "photos"
        photos.mkdir(parents=True, exist_ok=True)
        existing = sorted(photos.glob("photo*.jpg"))
        if len(existing) < args.images:
            make_photos(photos, args.images)
        for extra in sorted(photos.glob("photo*.jpg"))[args.images:]:
            extra.rename(root / extra.name)  # exactly --images photos in the indexed folder
        size_mb = sum(p.stat().st_size for p in photos.glob("photo*.jpg")) / args.images / 2**20
        print(f"{args.images} JPEGs of {SIZE[0]}x{SIZE[1]} ({size_mb:.1f} MiB each)")
        model = write_model(root / "vit-b-32")

        local_e2e, local_steady, local_start, n = index_once(root / "home-local", photos, model, None, args.batch)
        assert n == args.images
        ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
        try:
            plan = ClusterPlan(workers=args.workers, batch_size=args.batch)
            cluster_e2e, cluster_steady, cluster_start, n = index_once(root / "home-cluster", photos, model, plan, args.batch)
        finally:
            ray.shutdown()
        assert n == args.images
        print(f"local   : {local_e2e:6.2f} images/s end to end, {local_steady:6.2f} steady; "
              f"first batch after {local_start:.1f} s")
        print(f"cluster : {cluster_e2e:6.2f} images/s end to end, {cluster_steady:6.2f} steady; "
              f"first batch after {cluster_start:.1f} s "
              f"({args.workers} worker processes, Ray logical CPUs = {os.cpu_count()})")
        print(f"cluster overhead: {100 * (1 - cluster_e2e / local_e2e):.0f}% end to end, "
              f"{100 * (1 - cluster_steady / local_steady):.0f}% steady  (target <= 15%)")
        print(f"decode  : {decode_rate(sorted(photos.glob('photo*.jpg'))):6.2f} images/s on one core "
              "(draft-mode decode + resize to 224 px)")
        for batch in (128, 1024):
            rate = commit_rate(root / f"commit-{batch}", args.commit_vectors, 512, batch)
            print(f"commit  : {rate:9.0f} vectors/s into SQLite (512-d, batches of {batch})  (target >= 20000)")
    print(f"load after: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
