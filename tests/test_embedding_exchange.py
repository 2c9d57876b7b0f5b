"""Export to and import from clip-retrieval's layout (img_emb/*.npy + metadata/*.parquet)."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from latentstudio import cli
from latentstudio.context import AppContext
from latentstudio.engine import DeviceInfo
from latentstudio.library import add_folders, search_library, submit_index
from latentstudio.paths import HOME_ENV, Paths
from tests.support import tiny_clip


@pytest.fixture
def library_pair(ctx, tiny_models, tmp_path: Path, monkeypatch):
    """Home A has the shapes photos indexed; home B has the same folder scanned, with no vectors."""
    ctx.registry.import_path(tiny_models("clip-shapes"), kind="clip", model_id="shapes", link=True)
    photos = tmp_path / "photos"
    photos.mkdir()
    rng = random.Random(7)
    for colour, shape in tiny_clip.classes():
        for k in range(3):
            tiny_clip.shape_image(colour, shape, rng, size=96).save(photos / f"{colour}-{shape}-{k}.jpg")
    add_folders(ctx, [photos])
    ctx.library.scan()
    assert submit_index(ctx).result(120).encoded == 36

    home_b = tmp_path / "home-b"
    other = AppContext(Paths(home_b).ensure(), device=DeviceInfo.cpu("tests run on the CPU"))
    other.registry.import_path(tiny_models("clip-shapes"), kind="clip", model_id="shapes", link=True)
    add_folders(other, [photos])
    other.library.scan()
    yield ctx, other, home_b, photos
    other.close()


def _run(capsys, monkeypatch, home: Path, *args: str) -> tuple[int, str, str]:
    monkeypatch.setenv(HOME_ENV, str(home))
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _vectors(context: AppContext) -> dict[str, np.ndarray]:
    store = context.library.store
    rows = store.pending("none")  # every readable image, once per content
    return {row.hash: store.vector_for_hash(row.hash, "shapes") for row in rows}


def _foreign(folder: Path, paths: list[str], vectors: np.ndarray) -> Path:
    """Output as clip-retrieval's writer makes it: np.save of float16 rows, pandas parquet."""
    (folder / "img_emb").mkdir(parents=True)
    (folder / "metadata").mkdir()
    np.save(folder / "img_emb" / "img_emb_0.npy", vectors.astype(np.float16))
    pd.DataFrame({"image_path": paths, "caption": ["" for _ in paths]}).to_parquet(folder / "metadata" / "metadata_0.parquet")
    return folder


def test_export_then_import_restores_every_vector(library_pair, capsys, monkeypatch, fresh_home, tmp_path) -> None:
    source, target, home_b, photos = library_pair
    out_dir = tmp_path / "export"
    code, out, err = _run(capsys, monkeypatch, fresh_home, "export-embeddings", str(out_dir),
                          "--format", "clip-retrieval", "--json")
    assert code == 0, err
    assert json.loads(out)["vectors"] == 36 and json.loads(out)["partitions"] == ["0"]
    matrix = np.load(out_dir / "img_emb" / "img_emb_0.npy")
    table = pq.read_table(out_dir / "metadata" / "metadata_0.parquet")
    assert matrix.dtype == np.float16 and matrix.shape[0] == 36
    assert table.column_names == ["image_path", "content_hash"] and table.num_rows == 36
    by_path = {row.path: row for row in source.library.store.images_in(source.library.folders()[0].id).values()}
    for path, content_hash, vector in zip(table.column("image_path").to_pylist(),
                                          table.column("content_hash").to_pylist(), matrix):
        assert by_path[path].hash == content_hash
        assert np.array_equal(vector.astype(np.float32), source.library.store.vector_for_hash(content_hash, "shapes"))
    assert np.allclose(np.linalg.norm(matrix.astype(np.float32), axis=1), 1.0, atol=0.01)
    code, _, err = _run(capsys, monkeypatch, fresh_home, "export-embeddings", str(out_dir))
    assert code == 1 and "already holds embeddings" in err

    assert all(v is None for v in _vectors(target).values())
    code, out, err = _run(capsys, monkeypatch, home_b, "import-embeddings", str(out_dir), "--model", "shapes", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["rows"] == 36 and report["imported"] == 36 and report["unknown_paths"] == 0
    assert report["sample_cosine"] > 0.99  # vectors re-encoded here agree with the imported ones
    restored, original = _vectors(target), _vectors(source)
    assert restored.keys() == original.keys()
    for content_hash, vector in original.items():
        assert np.array_equal(restored[content_hash], vector)
    assert target.library.store.status()["indexed"] == 36
    for query in ("a red circle", "a blue square"):
        assert [h.path for h in search_library(target, text=query, limit=10, min_score=-1.0)] == \
               [h.path for h in search_library(source, text=query, limit=10, min_score=-1.0)]

    code, out, _ = _run(capsys, monkeypatch, home_b, "import-embeddings", str(out_dir), "--json")
    assert json.loads(out)["imported"] == 0 and json.loads(out)["already_indexed"] == 36


def test_foreign_output_maps_paths_and_reports_unknown_ones(library_pair, capsys, monkeypatch, tmp_path) -> None:
    source, target, home_b, photos = library_pair
    rows = sorted(source.library.store.images_in(source.library.folders()[0].id).values(), key=lambda r: r.path)
    vectors = np.stack([source.library.store.vector_for_hash(r.hash, "shapes") for r in rows])
    paths = ["/cluster/photos/" + Path(r.path).name for r in rows] + ["/cluster/photos/not-here.jpg"]
    folder = _foreign(tmp_path / "spark-out", paths, np.vstack([vectors, vectors[:1]]))
    code, out, err = _run(capsys, monkeypatch, home_b, "import-embeddings", str(folder),
                          "--path-map", f"{photos}=/cluster/photos", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["imported"] == 36 and report["unknown_paths"] == 1
    assert report["unknown_examples"] == ["/cluster/photos/not-here.jpg"]
    assert target.library.store.status()["vectors"]["shapes"] == 36


@pytest.mark.parametrize("problem, message", [
    ("dimensions", r"holds 36×35 vectors but the model makes \d+-dimensional ones"),
    ("length", "has length .* not 1"),
    ("model", "do not come from model 'shapes'"),
    ("rows", "has 36 vectors but metadata_0.parquet 35 rows"),
])
def test_unfit_embeddings_are_refused_and_nothing_is_written(library_pair, capsys, monkeypatch, tmp_path,
                                                            problem, message) -> None:
    source, target, home_b, photos = library_pair
    rows = sorted(source.library.store.images_in(source.library.folders()[0].id).values(), key=lambda r: r.path)
    dim = source.library.store.vector_for_hash(rows[0].hash, "shapes").shape[0]
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(36, 35 if problem == "dimensions" else dim))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    if problem == "length":
        vectors[5] *= 3
    paths = [r.path for r in rows][: 35 if problem == "rows" else 36]
    folder = tmp_path / "foreign"
    _foreign(folder, paths, vectors)
    before = target.library.store.status()
    code, _, err = _run(capsys, monkeypatch, home_b, "import-embeddings", str(folder), "--model", "shapes")
    assert code == 1
    assert err.startswith("error: ") and re.search(message, err), err
    assert target.library.store.status() == before
