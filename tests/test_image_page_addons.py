"""The Image page's LoRA picker and embeddings: several LoRAs with weights, family filtering,
the tags in the saved prompt, Reuse settings applying installed add-ons and naming missing ones."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest
from PIL import Image
from PySide6.QtCore import Qt

from latentstudio.context import AppContext
from latentstudio.ui.pages.image_page import ImagePage
from tests.support import tool_files as tf

TIMEOUT_MS = 240_000


@pytest.fixture
def page(ctx: AppContext, tiny_models: Callable[[str], Path], tiny_image_model, open_image_page):
    addons = tiny_models("addons-tiny")
    for name in ("kohya-style", "second-style", "sdxl-style"):
        ctx.registry.import_path(addons / f"{name}.safetensors", kind="lora")
    ctx.registry.import_path(addons / "tiny-emb.safetensors", kind="embedding")
    return open_image_page()


def choose(combo, text: str) -> None:
    index = combo.findText(text)
    assert index > 0, f"{text} not offered"
    combo.setCurrentIndex(index)
    combo.activated.emit(index)


def test_two_loras_and_an_embedding_from_the_picker_reach_the_image(qtbot, page: ImagePage) -> None:
    offered = [page.addons.add_lora.itemText(i) for i in range(page.addons.add_lora.count())]
    assert "kohya-style" in offered and "second-style" in offered
    assert "sdxl-style" not in offered  # made for SDXL: not offered for an SD 1.x model
    choose(page.addons.add_lora, "kohya-style")
    choose(page.addons.add_lora, "second-style")
    page.addons.rows["second-style"].slider.setValue(45)  # the slider sets the weight
    assert page.addons.rows["second-style"].weight.value() == pytest.approx(0.45)
    page.prompt.setPlainText("a red circle")
    page.negative.setPlainText("blue")
    choose(page.addons.add_embedding, "tiny-emb")
    assert page.negative.toPlainText() == "blue, tiny-emb"
    page.settings.seed.setText("5")
    page.settings.steps.setValue(2)
    qtbot.mouseClick(page.generate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.gallery.list.count() == 1, timeout=TIMEOUT_MS)
    with Image.open(page.gallery.paths()[0]) as image:
        parameters = image.text["parameters"]
    assert parameters.startswith("a red circle <lora:kohya-style:1> <lora:second-style:0.45>\n")
    assert "Lora hashes: \"kohya-style: " in parameters and "TI hashes: \"tiny-emb: " in parameters

    # Reuse: the LoRAs come back to the picker with their weights, the prompt without tags.
    page.addons.set_loras([])
    page.prompt.setPlainText("other")
    assert page.reuse_settings_from(page.gallery.paths()[0])
    assert page.prompt.toPlainText() == "a red circle"
    assert [(t.name, t.unet_weight) for t in page.addons.tags()] == [("kohya-style", 1.0), ("second-style", 0.45)]
    assert "Not installed" not in page.status.text()


def test_reuse_names_missing_loras_and_embeddings_with_hashes(qtbot, page: ImagePage, tmp_path: Path) -> None:
    text = (
        "a lighthouse <lora:Kohya-Style:0.7> <lora:add_detail:0.6>, easynegative\n"
        "Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1, Size: 512x512, "
        'Lora hashes: "add_detail: 7c6bad76eb54", TI hashes: "easynegative: c74b4e810b03", Version: v1.10.1'
    )
    assert page.reuse_settings_from(tf.png_with_text(tmp_path / "a.png", {"parameters": text}))
    assert page.prompt.toPlainText() == "a lighthouse, easynegative"
    assert [(t.name, t.unet_weight) for t in page.addons.tags()] == [("kohya-style", 0.7)]
    status = page.status.text()
    assert "Not installed, so left out: LoRA add_detail (hash 7c6bad76eb54); embedding easynegative (hash c74b4e810b03)" in status

    graph = tf.comfyui_hires_graph()
    graph["7"]["inputs"]["text"] = "fog, embedding:tiny-emb.safetensors, blurry"
    page.reuse_settings_from(tf.comfyui_png(tmp_path / "c.png", graph))
    assert page.addons.tags() == [] and "LoRA detail" in page.status.text()
    assert page.negative.toPlainText() == "fog, tiny-emb, blurry"  # ComfyUI's embedding:NAME, as A1111 writes it
    assert "embedding" not in page.status.text()  # tiny-emb is installed


def test_the_token_counter_counts_75_token_chunks(page: ImagePage) -> None:
    page.prompt.setPlainText("a red circle <lora:kohya-style:1>, (blue:1.2)")
    assert page.token_counter.text() == "5/75"  # the tag and the brackets do not count
    page.prompt.setPlainText(", ".join(["a red circle"] * 30))
    assert page.token_counter.text() == "119/150"
    page.prompt.setPlainText("a cat BREAK a dog")
    assert page.token_counter.text() == "4/150"


def test_a_few_step_lora_shows_and_applies_its_preset(page: ImagePage, tiny_models: Callable[[str], Path]) -> None:
    assert page.preset_hint.isHidden()  # an ordinary model: no preset
    page.ctx.registry.import_path(tiny_models("addons-tiny") / "diffusers-style.safetensors", kind="lora",
                                  model_id="lcm-lora-sdv1-5")
    page.refresh_models()
    page.settings.steps.setValue(25)
    choose(page.addons.add_lora, "lcm-lora-sdv1-5")  # picking it applies the preset
    assert not page.preset_hint.isHidden() and "LCM: 6 steps, CFG 1.5, LCM" in page.preset_hint.text()
    assert (page.settings.steps.value(), page.settings.guidance.value(), page.settings.scheduler.currentText()) == (
        6, 1.5, "LCM")
    page.addons.remove("lcm-lora-sdv1-5")
    assert page.preset_hint.isHidden()
