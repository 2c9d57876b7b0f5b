"""LoRAs and embeddings on the tiny SD model: detection and import in both key layouts, prompts in
A1111 syntax, adapters kept and switched, output that changes, repeats and follows the weight."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from PIL import Image

from latentstudio.context import AppContext
from latentstudio.imagegen import ImageRequest, read_metadata, submit_images
from latentstudio.imagegen.adapters import AddonError, autov3_hash
from latentstudio.imagegen.prompt_encoding import encode_prompts
from latentstudio.models import UnsupportedModelError

TIMEOUT = 300


@pytest.fixture
def addons(tiny_models: Callable[[str], Path]) -> Path:
    return tiny_models("addons-tiny")


@pytest.fixture
def sd_ctx(ctx: AppContext, tiny_models: Callable[[str], Path], addons: Path) -> AppContext:
    ctx.registry.import_path(tiny_models("diffusion-tiny") / "diffusers", kind="diffusion", model_id="tiny", link=True)
    for name in ("kohya-style", "diffusers-style", "second-style"):
        ctx.registry.import_path(addons / f"{name}.safetensors", kind="lora")
    ctx.registry.import_path(addons / "tiny-emb.safetensors", kind="embedding")
    return ctx


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB")).astype(int)


def make(ctx: AppContext, prompt: str, negative: str = "", seed: int = 3) -> Path:
    request = ImageRequest(prompt, negative_prompt=negative, seed=seed, steps=2, scheduler="Euler")
    return submit_images(ctx, request)[0].result(TIMEOUT).path


def cached_pipeline(ctx: AppContext):
    """The pipeline the model cache holds (a loader that fails: it must not be loaded again)."""
    def peek(job):
        with job.models.use("diffusion:tiny", lambda: pytest.fail("the pipeline was loaded again")) as loaded:
            return loaded

    return ctx.engine.submit(peek, name="peek").result(TIMEOUT)


def test_detects_and_imports_loras_of_both_layouts_with_family_triggers_and_preview(
    ctx: AppContext, addons: Path
) -> None:
    kohya = ctx.registry.import_path(addons / "kohya-style.safetensors", kind="lora")
    assert (kohya.kind, kohya.format, kohya.variant) == ("lora", "lora_kohya", "sd1")
    assert kohya.extra["trigger_words"][:2] == ["tinystyle", "red circle"]
    assert kohya.preview is not None and kohya.preview.is_file()
    peft = ctx.registry.import_path(addons / "diffusers-style.safetensors", kind="lora", link=True)
    assert (peft.format, peft.variant, peft.linked, peft.preview) == ("lora_diffusers", "sd1", True, None)
    sdxl = ctx.registry.import_path(addons / "sdxl-style.safetensors")
    assert sdxl.variant == "sdxl"
    assert ctx.registry.defaults().get("lora") is None  # add-ons have no default
    with pytest.raises(UnsupportedModelError, match="LyCORIS LoHa"):
        ctx.registry.import_path(addons / "loha-style.safetensors")
    with pytest.raises(UnsupportedModelError, match="is a lora model"):
        ctx.registry.import_path(addons / "kohya-style.safetensors", kind="embedding", model_id="other")


def test_embeddings_import_from_safetensors_and_pt_and_refuse_pickles_needing_more(
    ctx: AppContext, addons: Path
) -> None:
    a1111 = ctx.registry.import_path(addons / "tiny-emb.safetensors", kind="embedding")
    assert (a1111.format, a1111.extra["vectors"], a1111.extra["width"]) == ("embedding_a1111", 2, 32)
    diffusers = ctx.registry.import_path(addons / "tiny-diffusers-emb.safetensors", kind="embedding")
    assert diffusers.format == "embedding_diffusers"
    pt = ctx.registry.import_path(addons / "tiny-pt-emb.pt", kind="embedding")
    assert (pt.format, pt.extra["vectors"], pt.path.suffix) == ("embedding_a1111", 3, ".safetensors")
    with pytest.raises(UnsupportedModelError, match="refused: it holds Python objects"):
        ctx.registry.import_path(addons / "evil-emb.pt", kind="embedding")


def test_weighted_and_long_prompts_encode_as_a1111(sd_ctx: AppContext, tiny_models: Callable[[str], Path]) -> None:
    from diffusers import StableDiffusionPipeline

    import torch

    pipe = StableDiffusionPipeline.from_pretrained(str(tiny_models("diffusion-tiny") / "diffusers"), local_files_only=True)
    plain = encode_prompts(pipe, "a red circle", "blue")
    with torch.no_grad():
        reference, negative = pipe.encode_prompt("a red circle", "cpu", 1, True, "blue")
    assert np.allclose(plain["prompt_embeds"].numpy(), reference.numpy(), atol=1e-6)  # no syntax: as diffusers
    assert np.allclose(plain["negative_prompt_embeds"].numpy(), negative.numpy(), atol=1e-6)
    weighted = encode_prompts(pipe, "a (red:1.5) circle", "blue")["prompt_embeds"]
    assert not np.allclose(weighted.numpy(), reference.numpy(), atol=1e-3)
    escaped = encode_prompts(pipe, r"a \(red\) circle", "")["prompt_embeds"]
    assert escaped.shape == (1, 77, 32)
    long = encode_prompts(pipe, ", ".join(["a red circle"] * 30), "")
    assert long["prompt_embeds"].shape == (1, 154, 32)  # two chunks, nothing cut off
    assert long["negative_prompt_embeds"].shape == (1, 154, 32)  # the negative padded to match
    head = encode_prompts(pipe, ", ".join(["a red circle"] * 30) + ", blue square", "")["prompt_embeds"]
    assert not np.allclose(head[:, 77:].numpy(), long["prompt_embeds"][:, 77:].numpy())  # the tail counts
    broken = encode_prompts(pipe, "a red circle BREAK blue", "")["prompt_embeds"]
    assert broken.shape == (1, 154, 32)


def test_loras_change_the_image_reproducibly_by_weight_and_switch_without_reloading(sd_ctx: AppContext) -> None:
    base = make(sd_ctx, "a red circle")
    kohya = make(sd_ctx, "a red circle <lora:kohya-style:1>")
    again = make(sd_ctx, "a red circle <lora:kohya-style:1>")
    half = make(sd_ctx, "a red circle <lora:kohya-style:0.5>")
    peft = make(sd_ctx, "a red circle <lora:diffusers-style:1>")
    unet_only = make(sd_ctx, "a red circle <lora:kohya-style:0:1>")
    base_again = make(sd_ctx, "a red circle")

    assert np.array_equal(pixels(kohya), pixels(again))  # reproducible
    assert np.abs(pixels(kohya) - pixels(base)).mean() > 1  # a LoRA changes the picture
    assert np.abs(pixels(peft) - pixels(base)).mean() > 1  # the diffusers layout works too
    assert not np.array_equal(pixels(half), pixels(kohya))  # weight matters …
    assert np.abs(pixels(half) - pixels(base)).mean() < np.abs(pixels(kohya) - pixels(base)).mean()
    assert not np.array_equal(pixels(unet_only), pixels(kohya))  # … per part
    assert np.array_equal(pixels(base_again), pixels(base))  # switched off: the base model, unchanged (no fusing)

    loaded = cached_pipeline(sd_ctx)
    assert set(loaded.adapters) == {"kohya_style", "diffusers_style"}  # kept loaded between generations
    stacked = make(sd_ctx, "a red circle <lora:kohya-style:1> <lora:second-style:0.7>")
    assert not np.array_equal(pixels(stacked), pixels(kohya))
    assert set(loaded.adapters) == {"kohya_style", "diffusers_style", "second_style"}

    with Image.open(kohya) as image:
        parameters = image.text["parameters"]
        ours = json.loads(image.text["latentstudio"])
    assert parameters.startswith("a red circle <lora:kohya-style:1>\n")  # the tag stays in the prompt
    lora_file = sd_ctx.registry.get("kohya-style").path
    assert f'Lora hashes: "kohya-style: {autov3_hash(lora_file)[:12]}"' in parameters
    assert ours["loras"] == [{"name": "kohya-style", "te_weight": 1.0, "unet_weight": 1.0,
                              "hash": autov3_hash(lora_file)[:12]}]


def test_a_lora_for_another_family_or_not_installed_is_refused_in_words(sd_ctx: AppContext, addons: Path) -> None:
    sd_ctx.registry.import_path(addons / "sdxl-style.safetensors")
    with pytest.raises(AddonError, match="made for SDXL models; tiny is SD 1.x"):
        submit_images(sd_ctx, ImageRequest("a cat <lora:sdxl-style:1>", steps=1))
    with pytest.raises(AddonError, match="no LoRA named nowhere is installed"):
        submit_images(sd_ctx, ImageRequest("a cat <lora:nowhere:1>", steps=1))


def test_embedding_by_name_in_prompt_and_negative_changes_the_image_and_is_recorded(sd_ctx: AppContext) -> None:
    base = make(sd_ctx, "a red circle", negative="blue")
    with_emb = make(sd_ctx, "a red circle, tiny-emb", negative="blue")
    in_negative = make(sd_ctx, "a red circle", negative="blue, tiny-emb")
    assert np.abs(pixels(with_emb) - pixels(base)).mean() > 0.5
    assert not np.array_equal(pixels(in_negative), pixels(base))
    assert np.array_equal(pixels(make(sd_ctx, "a red circle, tiny-emb", negative="blue")), pixels(with_emb))
    # Nothing was added to the tokenizer or the text encoder: without the word, the image is as before.
    assert np.array_equal(pixels(make(sd_ctx, "a red circle", negative="blue")), pixels(base))
    pipe = cached_pipeline(sd_ctx).pipe
    assert len(pipe.tokenizer) == 49408 and pipe.text_encoder.get_input_embeddings().weight.shape[0] == 49408
    with Image.open(with_emb) as image:
        parameters = image.text["parameters"]
    digest = sd_ctx.registry.file_sha256(sd_ctx.registry.get("tiny-emb"))
    assert f"TI hashes: \"tiny-emb: {digest[:12]}\"" in parameters
    meta = read_metadata(with_emb)
    assert meta is not None and meta.prompt == "a red circle, tiny-emb"


def test_cli_imports_lists_and_generates_with_loras_and_embeddings(
    tiny_models: Callable[[str], Path], addons: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from latentstudio.cli import main

    assert main(["models", "import", str(tiny_models("diffusion-tiny") / "diffusers"), "--id", "tiny", "--link"]) == 0
    assert main(["models", "import", str(addons / "kohya-style.safetensors"), "--kind", "lora", "--id", "Pixel"]) == 0
    assert main(["models", "import", str(addons / "tiny-pt-emb.pt"), "--kind", "embedding", "--id", "badhand"]) == 0
    assert "Imported embedding model badhand" in capsys.readouterr().out
    folder = tmp_path / "Lora"  # the user's own LoRA folder, linked
    folder.mkdir()
    for name in ("diffusers-style", "second-style", "loha-style"):
        (folder / f"{name}.safetensors").symlink_to(addons / f"{name}.safetensors")
    assert main(["models", "import", str(folder), "--kind", "lora", "--link"]) == 1  # the LoHa is refused …
    out = capsys.readouterr()
    assert "Refused loha-style.safetensors: loha-style.safetensors is a LyCORIS LoHa file" in out.err
    assert out.out.count("as a link") == 2  # … the others are in, linked

    assert main(["models", "list", "--kind", "lora"]) == 0
    listing = capsys.readouterr().out
    assert "pixel" in listing and "for SD 1.x" in listing and "tiny" not in listing and "badhand" not in listing

    assert main(["generate-image", "a red circle <lora:Pixel:0.8> <lora:second-style:0.3:0.6>", "--negative",
                 "badhand", "--seed", "4", "--steps", "2", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    (image,) = report["images"]
    assert [(lora["name"], lora["te_weight"], lora["unet_weight"]) for lora in image["loras"]] == [
        ("pixel", 0.8, 0.8), ("second-style", 0.3, 0.6)]
    assert all(len(lora["hash"]) == 12 for lora in image["loras"])
    assert [e["name"] for e in image["embeddings"]] == ["badhand"] and len(image["embeddings"][0]["hash"]) == 12
