"""Inpainting and outpainting jobs on the tiny pipelines: the original kept exactly outside the mask,
masks scaled with a note or refused when empty, "only masked" crops, outpainted canvases, weights
shared with the loaded pipeline, and dedicated 9-channel checkpoints."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from PIL import Image

from latentstudio.context import AppContext
from latentstudio.engine import EventKind, JobEvent
from latentstudio.imagegen import ImageRequest, read_metadata, submit_images
from latentstudio.imagegen.masks import crop_box, feather, outpaint_canvas, paste_back

TIMEOUT = 300


@pytest.fixture
def sd_ctx(ctx: AppContext, tiny_models: Callable[[str], Path]) -> AppContext:
    ctx.registry.import_path(tiny_models("diffusion-tiny") / "diffusers", kind="diffusion", model_id="tiny", link=True)
    return ctx


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def noise_picture(path: Path, width: int, height: int, seed: int = 0) -> Path:
    """A picture no model would reproduce by chance: any pixel that survives came from the original."""
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)).save(path)
    return path


def mask_picture(path: Path, width: int, height: int, box: tuple[int, int, int, int], grey: int = 255) -> Path:
    mask = np.zeros((height, width), dtype=np.uint8)
    left, top, right, bottom = box
    mask[top:bottom, left:right] = grey
    Image.fromarray(mask).save(path)
    return path


def far_from(box: tuple[int, int, int, int], shape: tuple[int, int], margin: int) -> np.ndarray:
    """True for pixels more than `margin` from the box."""
    height, width = shape
    left, top, right, bottom = box
    near = np.zeros(shape, dtype=bool)
    near[max(0, top - margin):bottom + margin, max(0, left - margin):right + margin] = True
    return ~near


def test_inpainting_keeps_the_original_outside_the_mask_and_writes_its_settings(
    sd_ctx: AppContext, tmp_path: Path
) -> None:
    init = noise_picture(tmp_path / "init.png", 96, 80)
    box = (32, 24, 64, 56)
    mask = mask_picture(tmp_path / "mask.png", 96, 80, box)
    request = ImageRequest("a red circle", seed=4, steps=2, init_image=init, mask=mask, mask_blur=4, strength=0.9)
    result = submit_images(sd_ctx, request)[0].result(TIMEOUT)
    out, original = pixels(result.path), pixels(init)
    assert out.shape == original.shape and (result.width, result.height) == (96, 80)
    far = far_from(box, (80, 96), margin=4 * 3)  # a Gaussian blur of radius 4 reaches under 3 radii
    assert np.array_equal(out[far], original[far])
    inside = out[box[1] + 8:box[3] - 8, box[0] + 8:box[2] - 8]
    assert not np.array_equal(inside, original[box[1] + 8:box[3] - 8, box[0] + 8:box[2] - 8])
    assert result.notes == []  # same size as the picture, generated at its size: nothing to say

    with Image.open(result.path) as image:
        parameters = image.text["parameters"]
    assert "Size: 96x80, Model: tiny, Denoising strength: 0.9, Mask blur: 4, Version: Latent Studio" in parameters
    meta = read_metadata(result.path)
    assert meta is not None and (meta.mask_blur, meta.masked_only, meta.strength) == (4, False, 0.9)
    again = submit_images(sd_ctx, request)[0].result(TIMEOUT)
    assert np.array_equal(pixels(again.path), out)  # one seed, one picture


def test_a_mask_of_another_size_is_scaled_with_a_note_and_an_empty_mask_is_refused(
    sd_ctx: AppContext, tmp_path: Path
) -> None:
    init = noise_picture(tmp_path / "init.png", 96, 80)
    half = mask_picture(tmp_path / "half.png", 48, 40, (16, 12, 32, 28))  # the same place at half size
    events: list[JobEvent] = []
    request = ImageRequest("x", seed=1, steps=2, init_image=init, mask=half, mask_blur=0)
    result = submit_images(sd_ctx, request, on_event=events.append)[0].result(TIMEOUT)
    note = "the mask (48x40) was scaled to the init image's size (96x80)"
    assert result.notes == [note]
    assert note in [e.payload.message for e in events if e.kind is EventKind.PROGRESS]
    out, original = pixels(result.path), pixels(init)
    outside = far_from((32, 24, 64, 56), (80, 96), margin=1)  # blur 0: only the scaled edge may differ
    assert np.array_equal(out[outside], original[outside])
    assert not np.array_equal(out[30:50, 38:58], original[30:50, 38:58])

    grey = mask_picture(tmp_path / "grey.png", 96, 80, (0, 0, 96, 80), grey=127)  # 127 is not white
    with pytest.raises(ValueError, match="grey.png has nothing to repaint"):
        submit_images(sd_ctx, ImageRequest("x", init_image=init, mask=grey))
    with pytest.raises(ValueError, match="give an init image too"):
        submit_images(sd_ctx, ImageRequest("x", mask=half))
    with pytest.raises(ValueError, match="mask blur"):
        ImageRequest("x", init_image=init, mask=half, mask_blur=65).validated()
    with pytest.raises(ValueError, match="give a mask too"):
        ImageRequest("x", init_image=init, masked_only=True).validated()
    with pytest.raises(FileNotFoundError):
        ImageRequest("x", init_image=init, mask=tmp_path / "missing.png").validated()


def test_masked_only_repaints_a_crop_at_the_native_size(sd_ctx: AppContext, tmp_path: Path) -> None:
    init = noise_picture(tmp_path / "init.png", 256, 192)
    box = (150, 100, 170, 120)
    mask = mask_picture(tmp_path / "mask.png", 256, 192, box)
    request = ImageRequest("x", seed=2, steps=2, init_image=init, mask=mask, mask_blur=2, masked_only=True,
                           masked_padding=8, strength=1.0)
    result = submit_images(sd_ctx, request)[0].result(TIMEOUT)
    out, original = pixels(result.path), pixels(init)
    assert out.shape == original.shape
    # The crop: the feathered mask's box plus 8 pixels, widened to square (the 64x64 native size).
    crop = crop_box(feather(Image.open(mask).convert("L"), 2), 8, 64, 64)
    left, top, right, bottom = crop
    assert right - left == bottom - top and left <= box[0] - 8 and right >= box[2] + 8
    outside_crop = far_from(crop, (192, 256), margin=0)
    assert np.array_equal(out[outside_crop], original[outside_crop])
    assert not np.array_equal(out[105:115, 155:165], original[105:115, 155:165])
    with Image.open(result.path) as image:
        assert "Size: 64x64" in image.text["parameters"]
        assert "Mask blur: 2, Inpaint area: Only masked, Masked area padding: 8" in image.text["parameters"]
    meta = read_metadata(result.path)
    assert meta is not None and (meta.masked_only, meta.masked_padding) == (True, 8)


def test_crop_box_is_widened_inside_the_picture() -> None:
    mask = Image.new("L", (200, 100), 0)
    mask.paste(255, (180, 40, 196, 60))  # near the right edge
    left, top, right, bottom = crop_box(mask, 4, 64, 64)
    assert (right, bottom - top) == (200, right - left)  # square, shifted back inside
    assert top <= 36 and bottom >= 64
    wide = crop_box(mask, 4, 128, 64)
    assert (wide[2] - wide[0]) == 2 * (wide[3] - wide[1])


def test_paste_back_is_exact_where_the_feathered_mask_is_black() -> None:
    rng = np.random.default_rng(3)
    original = Image.fromarray(rng.integers(0, 256, (40, 50, 3), dtype=np.uint8))
    generated = Image.fromarray(rng.integers(0, 256, (40, 50, 3), dtype=np.uint8))
    mask = Image.new("L", (50, 40), 0)
    mask.paste(255, (15, 10, 35, 30))
    soft = np.asarray(feather(mask, 2))
    result = np.asarray(paste_back(original, generated, Image.fromarray(soft)))
    kept, repainted = soft == 0, soft == 255
    assert kept.sum() > 900 and repainted.sum() > 50
    assert np.array_equal(result[kept], np.asarray(original)[kept])
    assert np.array_equal(result[repainted], np.asarray(generated)[repainted])


def test_outpainting_extends_the_canvas_and_keeps_the_original(sd_ctx: AppContext, tmp_path: Path) -> None:
    init = noise_picture(tmp_path / "init.png", 64, 64)
    request = ImageRequest("x", seed=3, steps=2, init_image=init, outpaint=(32, 0, 12, 8), mask_blur=4, strength=1.0)
    result = submit_images(sd_ctx, request)[0].result(TIMEOUT)
    out, original = pixels(result.path), pixels(init)
    assert (result.width, result.height) == (64 + 32 + 12, 64 + 8) == (out.shape[1], out.shape[0])
    # The mask reaches mask_blur pixels into the picture, its blur 3 radii further: the rest is exact.
    reach = 4 + 3 * 4
    assert np.array_equal(out[0:64 - reach, 32 + reach:32 + 64 - reach], original[0:64 - reach, reach:64 - reach])
    assert not np.array_equal(out[:, :16], np.repeat(original[:, :1], 16, axis=1)[: out.shape[0]])
    assert "generated at 104x72" in result.notes[0]  # 108x72 is not a multiple of 8
    meta = read_metadata(result.path)
    assert meta is not None and meta.outpaint == (32, 0, 12, 8)
    with Image.open(result.path) as image:
        assert 'Outpaint: "32,0,12,8"' in image.text["parameters"]
    with pytest.raises(ValueError, match="give an init image too"):
        ImageRequest("x", outpaint=(8, 0, 0, 0)).validated()
    with pytest.raises(ValueError, match="between 0 and"):
        ImageRequest("x", init_image=init, outpaint=(-8, 0, 0, 0)).validated()


def test_outpaint_canvas_fills_the_border_from_the_edges() -> None:
    picture = Image.new("RGB", (40, 30), (200, 30, 10))
    extended = outpaint_canvas(picture, (10, 5, 0, 20), overlap=4)
    assert extended.canvas.size == (50, 55) and extended.offset == (10, 5)
    canvas, mask = np.asarray(extended.canvas), np.asarray(extended.mask)
    assert (canvas == (200, 30, 10)).all()  # a plain picture extends as itself
    assert mask[5 + 4:5 + 30 - 4, 10 + 4:].max() == 0  # kept: the picture less the overlap on extended sides
    assert mask[:, :10 + 4].min() == 255 and mask[5 + 30 - 4:].min() == 255 and mask[:5 + 4].min() == 255


def test_any_model_inpaints_with_its_own_weights(sd_ctx: AppContext, tmp_path: Path) -> None:
    """The inpainting pipeline is made from the loaded one's component objects: no second copy."""
    from latentstudio.imagegen.loading import pipeline_key
    from latentstudio.imagegen.passes import derived

    init = noise_picture(tmp_path / "init.png", 64, 64)
    mask = mask_picture(tmp_path / "mask.png", 64, 64, (16, 16, 48, 48))
    submit_images(sd_ctx, ImageRequest("x", seed=1, steps=2, init_image=init, mask=mask))[0].result(TIMEOUT)
    model = sd_ctx.registry.get("tiny")

    def inspect(job: object) -> tuple[str, list[str]]:
        with sd_ctx.engine.models.use(pipeline_key(model), lambda: None) as loaded:
            inpaint = derived(loaded, "inpaint")
            copied = [name for name, component in loaded.pipe.components.items()
                      if component is not None and inpaint.components[name] is not component]
            return type(inpaint).__name__, copied

    kind, copied = sd_ctx.engine.submit(inspect, name="inspect").result(TIMEOUT)
    assert kind == "StableDiffusionInpaintPipeline" and copied == []


def test_a_9_channel_checkpoint_is_detected_and_loaded_offline(
    ctx: AppContext, tiny_models: Callable[[str], Path], tmp_path: Path
) -> None:
    from latentstudio.imagegen.loading import unet_in_channels

    tiny = tiny_models("diffusion-inpaint-tiny")
    single = ctx.registry.import_path(tiny / "tiny-sd1-inpainting.safetensors", kind="diffusion", model_id="inpaint",
                                      link=True)
    folder = ctx.registry.import_path(tiny / "diffusers", kind="diffusion", model_id="inpaint-folder", link=True)
    assert unet_in_channels(single) == unet_in_channels(folder) == 9  # from the conv_in shape / the config
    init = noise_picture(tmp_path / "init.png", 64, 64)
    mask = mask_picture(tmp_path / "mask.png", 64, 64, (16, 16, 48, 48))
    settings = dict(prompt="x", seed=5, steps=2, init_image=init, mask=mask, mask_blur=0)
    # The tiny checkpoint's own diffusers folder stands in for the bundled SD configs (full-size architectures).
    from_file = submit_images(ctx, ImageRequest(**settings, model_id="inpaint"),  # type: ignore[arg-type]
                              config_dir=tiny / "diffusers")[0].result(TIMEOUT)
    from_folder = submit_images(ctx, ImageRequest(**settings, model_id="inpaint-folder"))[0].result(TIMEOUT)  # type: ignore[arg-type]
    assert np.array_equal(pixels(from_file.path), pixels(from_folder.path))
    out, original = pixels(from_file.path), pixels(init)
    assert np.array_equal(out[:15], original[:15]) and not np.array_equal(out[20:44, 20:44], original[20:44, 20:44])
    # Without a mask an inpainting model still makes pictures (everything masked, as A1111 conditions it).
    plain = submit_images(ctx, ImageRequest("x", seed=5, steps=2, model_id="inpaint-folder"))[0].result(TIMEOUT)
    assert (plain.width, plain.height) == (64, 64)
    with pytest.raises(ValueError, match="inpainting model: hires fix needs an ordinary model"):
        submit_images(ctx, ImageRequest("x", hires_scale=2, model_id="inpaint-folder"))


def test_the_bundled_config_with_9_input_channels_fits_a_published_inpainting_unet() -> None:
    """The UNet that loading builds for an SD 1.x inpainting checkpoint: the bundled config plus in_channels 9."""
    import torch
    from diffusers import UNet2DConditionModel

    from latentstudio.imagegen.loading import INPAINTING_CHANNELS, bundled_config

    config = UNet2DConditionModel.load_config(bundled_config("sd1") / "unet")
    with torch.device("meta"):
        unet = UNet2DConditionModel.from_config({**config, "in_channels": INPAINTING_CHANNELS})
    assert tuple(unet.conv_in.weight.shape) == (320, 9, 3, 3)  # stable-diffusion-inpainting's conv_in
    assert sum(p.numel() for p in unet.parameters()) == 859_535_364  # its published UNet size


def test_an_sdxl_model_inpaints_and_runs_hires_fix(ctx: AppContext, tmp_path: Path) -> None:
    from tests.support.tiny_sdxl import build_sdxl_pipeline

    build_sdxl_pipeline().save_pretrained(tmp_path / "tiny-sdxl", safe_serialization=True)
    ctx.registry.import_path(tmp_path / "tiny-sdxl", kind="diffusion", model_id="xl", link=True)
    init = noise_picture(tmp_path / "init.png", 128, 128)
    box = (40, 40, 88, 88)
    mask = mask_picture(tmp_path / "mask.png", 128, 128, box)
    result = submit_images(ctx, ImageRequest("x", seed=2, steps=2, init_image=init, mask=mask, model_id="xl"))[0]
    out, original = pixels(result.result(TIMEOUT).path), pixels(init)
    far = far_from(box, (128, 128), margin=12)
    assert np.array_equal(out[far], original[far]) and not np.array_equal(out[50:78, 50:78], original[50:78, 50:78])
    hires = submit_images(ctx, ImageRequest("x", seed=2, steps=2, hires_scale=1.5, model_id="xl"))[0].result(TIMEOUT)
    assert (hires.width, hires.height) == (96, 96)  # the tiny SDXL is made at 64x64
