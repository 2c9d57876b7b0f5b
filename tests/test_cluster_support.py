"""Cluster support without a Ray runtime: the extra's check in doctor, path maps, lazy imports."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from latentstudio.cli import main
from latentstudio.library import cluster_setup
from latentstudio.library.cluster_setup import ClusterError, PathMap, map_path


def test_doctor_reports_cluster_support(capsys) -> None:
    assert main(["doctor", "--json"]) == 0
    cluster = json.loads(capsys.readouterr().out)["cluster"]
    assert cluster["installed"] is True  # the test set-up installs the cluster extra
    assert cluster["versions"]["ray"] == metadata.version("ray")
    assert cluster["versions"]["pyarrow"] == metadata.version("pyarrow")
    assert main(["doctor"]) == 0
    assert f"ray {metadata.version('ray')}" in capsys.readouterr().out


REAL_VERSION = metadata.version


def _without_ray(name: str) -> str:
    if name == "ray":
        raise metadata.PackageNotFoundError(name)
    return REAL_VERSION(name)


def test_missing_extra_is_named_with_the_install_command(monkeypatch, capsys) -> None:
    monkeypatch.setattr(cluster_setup.metadata, "version", _without_ray)
    support = cluster_setup.cluster_support()
    assert support["installed"] is False and support["versions"]["ray"] is None
    with pytest.raises(ClusterError, match=r"missing ray.*latent-studio\[cluster\]"):
        cluster_setup.require_cluster_support()
    assert main(["doctor"]) == 0
    assert "Cluster:    not installed (pip install 'latent-studio[cluster]')" in capsys.readouterr().out


def test_index_on_a_cluster_without_the_extra_stops_before_any_work(monkeypatch, capsys, ctx, tiny_models,
                                                                  tmp_path: Path) -> None:
    ctx.registry.import_path(tiny_models("clip-tiny"), kind="clip", model_id="tiny", link=True)
    monkeypatch.setattr(cluster_setup.metadata, "version", _without_ray)
    photos = tmp_path / "photos"
    photos.mkdir()
    assert main(["index", str(photos), "--cluster", "local"]) == 1
    assert "cluster support is not installed" in capsys.readouterr().err
    assert ctx.library.folders() == []  # nothing added, nothing scanned
    assert main(["index", str(photos), "--path-map", "/a=/b"]) == 1
    assert "go with --cluster" in capsys.readouterr().err
    assert ctx.library.folders() == []


def test_path_maps(tmp_path: Path) -> None:
    nas = PathMap.parse(f"{tmp_path}/nas=/data/nas/")
    other = PathMap.parse(f"{tmp_path}=/srv/all")
    assert nas.remote == "/data/nas"
    assert map_path(str(tmp_path / "nas" / "2024" / "a.jpg"), [nas, other]) == "/data/nas/2024/a.jpg"
    assert map_path(str(tmp_path / "x.jpg"), [nas, other]) == "/srv/all/x.jpg"
    assert map_path("/elsewhere/a.jpg", [nas]) is None
    for bad in ("no-equals", "=/remote", "/local="):
        with pytest.raises(ValueError, match="LOCAL=REMOTE"):
            PathMap.parse(bad)


def test_the_app_and_the_cli_do_not_import_ray() -> None:
    modules = ["latentstudio.cli", "latentstudio.library.cli", "latentstudio.library.exchange_cli",
               "latentstudio.library.cluster_index", "latentstudio.library.embedding_exchange"]
    code = (
        f"import sys; import {', '.join(modules)}; "
        "print(sorted(m for m in ('ray', 'pyarrow', 'pandas') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
