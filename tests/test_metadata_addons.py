"""The LoRAs and embeddings other tools' files name, read by `info` and the readers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from latentstudio.cli import main
from latentstudio.imagegen.metadata import read_metadata
from tests.support import tool_files as tf


def test_a1111_tags_weights_and_hashes(tmp_path: Path) -> None:
    text = (
        "a lighthouse <lora:add_detail:0.6>, <lora:film:0.4:0.9>, easynegative\nNegative prompt: bad-hands-5\n"
        "Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1, Size: 512x512, Model: sd15, "
        'Lora hashes: "add_detail: 7c6bad76eb54, film: 0123456789ab", '
        'TI hashes: "easynegative: c74b4e810b03, bad-hands-5: aa7651be154c", Version: v1.10.1'
    )
    meta = read_metadata(tf.png_with_text(tmp_path / "a.png", {"parameters": text}))
    assert meta is not None
    assert meta.loras == [{"name": "add_detail", "weight": 0.6, "te_weight": 0.6, "hash": "7c6bad76eb54"},
                          {"name": "film", "weight": 0.9, "te_weight": 0.4, "hash": "0123456789ab"}]
    assert meta.embeddings == [{"name": "easynegative", "hash": "c74b4e810b03"},
                               {"name": "bad-hands-5", "hash": "aa7651be154c"}]
    hashes_only = read_metadata(tf.png_with_text(tmp_path / "b.png", {"parameters": tf.A1111_TEXT}))
    assert hashes_only is not None and hashes_only.loras == [{"name": "add_detail", "hash": "7c6bad76eb54"}]


def test_comfyui_lora_loader_nodes_and_embedding_words(tmp_path: Path) -> None:
    graph = tf.comfyui_hires_graph()
    graph["7"]["inputs"]["text"] = "fog, embedding:EasyNegative.pt, blurry"
    meta = read_metadata(tf.comfyui_png(tmp_path / "c.png", graph))
    assert meta is not None
    assert meta.loras == [{"name": "detail", "weight": 0.8, "te_weight": 0.8}]
    assert meta.embeddings == [{"name": "EasyNegative"}]


def test_invokeai_and_fooocus_loras(tmp_path: Path) -> None:
    data = {"positive_prompt": "a lighthouse", "seed": 1, "steps": 20, "cfg_scale": 6,
            "model": {"name": "juggernautXL", "hash": "blake3:3be1f5a2c4"},
            "loras": [{"model": {"key": "k", "hash": "blake3:abcdef012345", "name": "pixel-art-xl"}, "weight": 0.75},
                      {"lora": {"model_name": "old_style", "base_model": "sdxl"}, "weight": 0.5},
                      {"model": "junk"}]}
    meta = read_metadata(tf.png_with_text(tmp_path / "i.png", {"invokeai_metadata": json.dumps(data)}))
    assert meta is not None and meta.loras == [{"name": "pixel-art-xl", "weight": 0.75, "hash": "abcdef012345"},
                                               {"name": "old_style", "weight": 0.5}]
    fooocus = read_metadata(tf.fooocus_png(tmp_path / "f.png"))
    assert fooocus is not None
    assert fooocus.loras == [{"name": "sd_xl_offset_example-lora_1.0", "weight": 0.1, "hash": "4852686128"}]


def test_info_lists_loras_and_embeddings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = ("a cat <lora:add_detail:0.6>, easynegative\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1, "
            'Size: 512x512, Lora hashes: "add_detail: 7c6bad76eb54", TI hashes: "easynegative: c74b4e810b03"')
    path = tf.png_with_text(tmp_path / "a.png", {"parameters": text})
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "loras       add_detail (0.6, hash 7c6bad76eb54)" in out
    assert "embeddings  easynegative (hash c74b4e810b03)" in out
    assert main(["info", str(path), "--json"]) == 0
    (report,) = json.loads(capsys.readouterr().out)
    assert report["metadata"]["loras"][0]["name"] == "add_detail"
