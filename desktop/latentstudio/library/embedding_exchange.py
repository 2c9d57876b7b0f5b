"""Exchange image embeddings with clip-retrieval, in its output layout.

    DIR/img_emb/img_emb_<n>.npy            float16 (rows, dim), unit-length vectors, one per image
    DIR/metadata/metadata_<n>.parquet      same row order: `image_path`, and our `content_hash`

`<n>` is the partition number, zero-padded to the digits of the partition count (as
clip-retrieval's writer does: one partition is `img_emb_0`). An import checks everything before
it writes anything: the vector dimension against the model, unit length, finite values, and,
on a few images re-encoded here, that the vectors really come from that model. Paths are
matched to library images (by content hash when the metadata carries ours, else by path,
through `--path-map` for paths as the cluster saw them); unknown paths are reported.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, Optional, Sequence

import numpy as np

from ..atomic_files import atomic_write
from .cluster_setup import PathMap, require_cluster_support
from .decode import DecodeError, decode_image
from .store import DecodedInfo, ImageRow
from .thumbnails import THUMBNAIL_SIZE

if TYPE_CHECKING:
    from ..models.clip_loader import ClipModel
    from .photo_library import Library

log = logging.getLogger(__name__)

PARTITION_ROWS = 1_000_000  # vectors per .npy file (about 1 GB at 512 dimensions in float16)
WRITE_BATCH = 5_000  # vectors per transaction on import
NORM_TOLERANCE = 0.02  # float16 rounding moves a unit vector's length by ~1e-3
SAMPLE_IMAGES = 8  # images re-encoded here to check the vectors come from the model
MIN_SAMPLE_COSINE = 0.9


class ExchangeError(ValueError):
    """Embeddings that cannot be imported (or exported); nothing was written."""


@dataclass
class ExportReport:
    folder: str
    vectors: int = 0
    dim: int = 0
    partitions: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"folder": self.folder, "vectors": self.vectors, "dim": self.dim, "partitions": self.partitions}


@dataclass
class ImportReport:
    rows: int = 0  # vectors in the files
    imported: int = 0  # images that received a vector
    already_indexed: int = 0  # images that had a vector for the model: kept as they were
    unknown: list[str] = field(default_factory=list)  # paths matching no library image
    sample_cosine: Optional[float] = None  # median agreement with vectors made here, if checked

    def to_json(self) -> dict:
        return {"rows": self.rows, "imported": self.imported, "already_indexed": self.already_indexed,
                "unknown_paths": len(self.unknown), "unknown_examples": self.unknown[:20],
                "sample_cosine": None if self.sample_cosine is None else round(self.sample_cosine, 4)}


def _digits(partitions: int) -> int:
    return int(math.log10(max(1, partitions))) + 1


def _partitions(folder: Path) -> list[tuple[Path, Path]]:
    """(img_emb/…npy, metadata/…parquet) pairs, in partition order."""
    pairs = []
    for npy in sorted((folder / "img_emb").glob("img_emb_*.npy"),
                      key=lambda p: int(p.stem.rsplit("_", 1)[1]) if p.stem.rsplit("_", 1)[1].isdigit() else -1):
        suffix = npy.stem[len("img_emb_"):]
        parquet = folder / "metadata" / f"metadata_{suffix}.parquet"
        if not parquet.is_file():
            raise ExchangeError(f"{npy} has no matching {parquet.relative_to(folder)}")
        pairs.append((npy, parquet))
    return pairs


def export_clip_retrieval(library: "Library", model: str, folder: Path) -> ExportReport:
    """Write the model's vectors of every indexed image in clip-retrieval's layout."""
    require_cluster_support()
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = Path(folder).expanduser()
    if (folder / "img_emb").is_dir() and any((folder / "img_emb").iterdir()):
        raise FileExistsError(f"{folder / 'img_emb'} already holds embeddings; choose an empty folder")
    total = int(library.store.status()["vectors"].get(model, 0))
    if total == 0:
        raise ExchangeError(f"the library has no vectors for model {model!r}: index it first")
    (folder / "img_emb").mkdir(parents=True, exist_ok=True)
    (folder / "metadata").mkdir(parents=True, exist_ok=True)
    report = ExportReport(str(folder))
    digits = _digits(math.ceil(total / PARTITION_ROWS))  # an upper bound: duplicates add rows

    def flush(paths: list[str], hashes: list[str], blobs: list[bytes]) -> None:
        number = str(len(report.partitions)).zfill(digits)
        matrix = np.frombuffer(b"".join(blobs), dtype=np.float16).reshape(len(blobs), -1)
        table = pa.table({"image_path": pa.array(paths, pa.string()), "content_hash": pa.array(hashes, pa.string())})
        with atomic_write(folder / "metadata" / f"metadata_{number}.parquet", binary=True) as fh:
            pq.write_table(table, fh)
        with atomic_write(folder / "img_emb" / f"img_emb_{number}.npy", binary=True) as fh:
            np.save(fh, matrix)
        report.partitions.append(number)
        report.vectors += len(blobs)
        report.dim = matrix.shape[1]

    paths: list[str] = []
    hashes: list[str] = []
    blobs: list[bytes] = []
    for rows in library.store.exported_vectors(model):
        for path, content_hash, blob in rows:
            paths.append(path)
            hashes.append(content_hash)
            blobs.append(blob)
            if len(blobs) >= PARTITION_ROWS:
                flush(paths, hashes, blobs)
                paths, hashes, blobs = [], [], []
    if blobs:
        flush(paths, hashes, blobs)
    return report


@dataclass
class _Partition:
    npy: Path
    paths: list[str]
    hashes: Optional[list[Optional[str]]]


def _read_partitions(folder: Path, dim: int) -> Iterator[tuple[_Partition, np.ndarray]]:
    """Each partition's metadata and vectors (memory-mapped), checked for shape and length."""
    import pyarrow.parquet as pq

    pairs = _partitions(folder)
    if not pairs:
        raise ExchangeError(f"{folder} has no img_emb/img_emb_*.npy: not a clip-retrieval output folder")
    for npy, parquet in pairs:
        try:
            vectors = np.load(npy, mmap_mode="r", allow_pickle=False)
        except ValueError as exc:
            raise ExchangeError(f"{npy.name} is not a plain numpy matrix ({exc})") from None
        table = pq.read_table(parquet)
        if "image_path" not in table.column_names:
            raise ExchangeError(f"{parquet.name} has no image_path column (it has {', '.join(table.column_names)})")
        if vectors.ndim != 2 or vectors.shape[1] != dim:
            shape = "×".join(str(n) for n in vectors.shape)
            raise ExchangeError(f"{npy.name} holds {shape} vectors but the model makes {dim}-dimensional "
                                "ones: these embeddings come from another model")
        if vectors.shape[0] != table.num_rows:
            raise ExchangeError(f"{npy.name} has {vectors.shape[0]} vectors but {parquet.name} "
                                f"{table.num_rows} rows")
        hashes = table.column("content_hash").to_pylist() if "content_hash" in table.column_names else None
        yield _Partition(npy, [str(p) for p in table.column("image_path").to_pylist()], hashes), vectors


def _check_values(name: str, vectors: np.ndarray) -> None:
    for start in range(0, vectors.shape[0], 100_000):
        chunk = np.asarray(vectors[start:start + 100_000], dtype=np.float32)
        if not np.isfinite(chunk).all():
            raise ExchangeError(f"{name} holds values that are not finite numbers")
        norms = np.linalg.norm(chunk, axis=1)
        bad = np.flatnonzero(np.abs(norms - 1.0) > NORM_TOLERANCE)
        if bad.size:
            row = start + int(bad[0])
            raise ExchangeError(f"{name} row {row} has length {norms[bad[0]]:.3f}, not 1: CLIP image "
                                "embeddings are normalised (clip-retrieval writes them so)")


def _reverse(path: str, maps: Sequence[PathMap]) -> str:
    """A path as the cluster saw it → as this machine sees it (the first map whose REMOTE covers it)."""
    for path_map in maps:
        remote = path_map.remote.rstrip("/")
        if path == remote or path.startswith(remote + "/"):
            return str(Path(path_map.local, path[len(remote):].lstrip("/")))
    return path


def _match(library: "Library", part: _Partition, maps: Sequence[PathMap]) -> list[Optional[ImageRow]]:
    """The library image for each row: by our content hash when present, else by (mapped) path."""
    local = [_reverse(p, maps) for p in part.paths]
    by_path = library.store.images_by_paths(local)
    by_hash = library.store.images_by_hashes([h for h in part.hashes if h]) if part.hashes else {}
    matched: list[Optional[ImageRow]] = []
    for i, path in enumerate(local):
        content_hash = part.hashes[i] if part.hashes else None
        matched.append(by_hash.get(content_hash) if content_hash else None)
        if matched[-1] is None:
            row = by_path.get(path)
            matched[-1] = row if row is not None and row.hash else None
    return matched


def _sample_cosine(clip: "ClipModel", samples: list[tuple[ImageRow, np.ndarray]]) -> Optional[float]:
    """Median cosine between imported vectors and this model's own, on a few decodable images."""
    pixels, theirs = [], []
    min_side = max(max(clip.spec.size), THUMBNAIL_SIZE)
    for row, vector in samples:
        try:
            decoded = decode_image(Path(row.path), min_side=min_side)
        except DecodeError:
            continue
        pixels.append(clip.spec.to_pixels(decoded.image))
        theirs.append(np.asarray(vector, dtype=np.float32))
    if not pixels:
        return None
    ours = clip.encode_pixels(np.stack(pixels))
    theirs_m = np.stack(theirs)
    cosines = np.sum(ours * theirs_m, axis=1) / np.linalg.norm(theirs_m, axis=1)
    return float(np.median(cosines))


def import_clip_retrieval(library: "Library", model: str, clip: "ClipModel", folder: Path,
                          path_maps: Sequence[PathMap] = (), check_sample: bool = True,
                          progress: Optional[Callable[[int, int], None]] = None) -> ImportReport:
    """Read clip-retrieval output into the library's vectors for `model`; refuses (writing
    nothing) what does not fit the model."""
    require_cluster_support()
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(f"not a folder: {folder}")
    report = ImportReport()
    samples: list[tuple[ImageRow, np.ndarray]] = []
    # First pass: check every file and find the images; nothing is written until all pass.
    for part, vectors in _read_partitions(folder, clip.embed_dim):
        _check_values(part.npy.name, vectors)
        report.rows += vectors.shape[0]
        if len(samples) < SAMPLE_IMAGES:
            for i, row in enumerate(_match(library, part, path_maps)):
                if row is not None and len(samples) < SAMPLE_IMAGES:
                    samples.append((row, np.asarray(vectors[i], dtype=np.float32)))
    if check_sample and samples:
        report.sample_cosine = _sample_cosine(clip, samples)
        if report.sample_cosine is not None and report.sample_cosine < MIN_SAMPLE_COSINE:
            raise ExchangeError(
                f"these vectors do not come from model {model!r}: re-encoded here, {len(samples)} of the "
                f"images agree with them only to cosine {report.sample_cosine:.2f} (median); import them "
                "with the model that made them")
    # Second pass: write in batches, through the same commit as indexing.
    done = 0
    for part, vectors in _read_partitions(folder, clip.embed_dim):
        matched = _match(library, part, path_maps)
        for start in range(0, len(matched), WRITE_BATCH):
            rows = matched[start:start + WRITE_BATCH]
            hashes = {row.hash for row in rows if row is not None}
            have = library.store.hashes_with_vectors(model, hashes)
            batch: list[tuple[ImageRow, DecodedInfo, np.ndarray]] = []
            for offset, row in enumerate(rows):
                if row is None:
                    report.unknown.append(part.paths[start + offset])
                elif row.hash in have:
                    report.already_indexed += 1
                else:
                    have.add(row.hash)  # type: ignore[arg-type]
                    info = DecodedInfo(row.width, row.height, row.taken, row.format)  # type: ignore[arg-type]
                    batch.append((row, info, np.asarray(vectors[start + offset], dtype=np.float32)))
            library.store.record_batch(model, batch, [])
            report.imported += len(batch)
            done += len(rows)
            if progress is not None:
                progress(done, report.rows)
    return report
