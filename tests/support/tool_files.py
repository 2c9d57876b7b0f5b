"""Image files written the way each generator writes them (from their formats as published),
for the metadata reader tests. Nothing here is downloaded.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from PIL.PngImagePlugin import PngInfo

SEED_64 = 2**64 - 1
EXIF_IFD = 0x8769
USER_COMMENT = 0x9286

A1111_TEXT = (
    "a lighthouse at dusk, (dramatic sky:1.2), oil painting\n"
    "Negative prompt: blurry, lowres, watermark\n"
    "Steps: 28, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 6.5, Seed: 3141592653, "
    "Size: 512x768, Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, "
    'Lora hashes: "add_detail: 7c6bad76eb54", Version: v1.10.1'
)
FORGE_TEXT = (
    "portrait of an astronaut\nNegative prompt: text\n"
    "Steps: 20, Sampler: Euler a, Schedule type: Automatic, CFG scale: 7, Distilled CFG Scale: 3.5, "
    "Seed: 12345, Size: 896x1152, Model hash: 31e35c80fc, Model: sd_xl_base_1.0, "
    "Version: f2.0.1v1.10.1-previous-313-g8a042934, Module 1: sdxl_vae"
)
SDNEXT_TEXT = (
    "a red fox in snow\nNegative prompt: cartoon\n"
    "Steps: 30, Seed: 987654321, Sampler: UniPC, CFG scale: 5, Size: 1024x1024, Batch: 1x1, "
    "Model: sdxl-base, Model hash: 31e35c80fc, App: SD.Next, Version: 2a0dcd1, Operations: txt2img, "
    "Pipeline: StableDiffusionXLPipeline"
)


def _pixels(size: tuple[int, int] = (32, 32), mode: str = "RGB") -> Image.Image:
    rng = np.random.default_rng(0)
    channels = 4 if mode == "RGBA" else 3
    array = rng.integers(0, 256, (size[1], size[0], channels), dtype=np.uint8)
    if mode == "RGBA":
        array[..., 3] = 255
    return Image.fromarray(array, mode)


def png_with_text(path: Path, chunks: dict[str, str], image: Image.Image | None = None) -> Path:
    info = PngInfo()
    for key, value in chunks.items():
        info.add_text(key, value)  # tEXt for Latin-1, iTXt otherwise, as Pillow-based tools write
    (image or _pixels()).save(path, "PNG", pnginfo=info)
    return path


def user_comment_file(path: Path, text: str, fmt: str, encoding: str = "utf-16-be") -> Path:
    """JPEG/WebP with EXIF UserComment in the Exif IFD, as A1111 (piexif, "UNICODE") writes it."""
    prefix = b"ASCII\x00\x00\x00" if encoding == "ascii" else b"UNICODE\x00"
    exif = Image.Exif()
    exif.get_ifd(EXIF_IFD)[USER_COMMENT] = prefix + text.encode(encoding)
    _pixels().save(path, fmt, exif=exif, quality=90)
    return path


# -- ComfyUI -----------------------------------------------------------------------------------


def comfyui_hires_graph() -> dict[str, Any]:
    """Txt2img then a latent upscale and a second sampler (hires fix); the seed comes from a
    primitive node through a reroute, the checkpoint through a LoRA loader."""
    return {
        "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "juggernautXL_v9.safetensors"},
              "_meta": {"title": "Load Checkpoint"}},
        "10": {"class_type": "LoraLoader", "inputs": {"model": ["4", 0], "clip": ["4", 1],
                                                      "lora_name": "detail.safetensors", "strength_model": 0.8,
                                                      "strength_clip": 0.8}},
        "20": {"class_type": "PrimitiveInt", "inputs": {"value": SEED_64}},
        "21": {"class_type": "Reroute", "inputs": {"": ["20", 0]}},
        "30": {"class_type": "PrimitiveString", "inputs": {"value": "a castle on a cliff, at dusk"}},
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": ["30", 0], "clip": ["10", 1]}},
        "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "fog, blurry", "clip": ["10", 1]}},
        "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 832, "height": 1216, "batch_size": 1}},
        "3": {"class_type": "KSampler", "inputs": {
            "seed": ["21", 0], "steps": 25, "cfg": 7.0, "sampler_name": "dpmpp_2m", "scheduler": "karras",
            "denoise": 1.0, "model": ["10", 0], "positive": ["6", 0], "negative": ["7", 0], "latent_image": ["5", 0]}},
        "11": {"class_type": "LatentUpscale", "inputs": {"samples": ["3", 0], "upscale_method": "nearest-exact",
                                                         "width": 1248, "height": 1824, "crop": "disabled"}},
        "12": {"class_type": "KSampler", "inputs": {
            "seed": 777, "steps": 12, "cfg": 5.0, "sampler_name": "euler_ancestral", "scheduler": "normal",
            "denoise": 0.45, "model": ["10", 0], "positive": ["6", 0], "negative": ["7", 0],
            "latent_image": ["11", 0]}},
        "8": {"class_type": "VAEDecode", "inputs": {"samples": ["12", 0], "vae": ["4", 2]}},
        "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "ComfyUI", "images": ["8", 0]}},
    }


def comfyui_flux_graph() -> dict[str, Any]:
    """The Flux form: SamplerCustomAdvanced fed by RandomNoise, BasicGuider, KSamplerSelect, BasicScheduler."""
    return {
        "12": {"class_type": "UNETLoader", "inputs": {"unet_name": "flux1-dev.safetensors", "weight_dtype": "default"}},
        "11": {"class_type": "DualCLIPLoader", "inputs": {"clip_name1": "t5xxl_fp16.safetensors",
                                                          "clip_name2": "clip_l.safetensors", "type": "flux"}},
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a cozy cabin in the woods", "clip": ["11", 0]}},
        "26": {"class_type": "FluxGuidance", "inputs": {"guidance": 3.5, "conditioning": ["6", 0]}},
        "22": {"class_type": "BasicGuider", "inputs": {"model": ["12", 0], "conditioning": ["26", 0]}},
        "25": {"class_type": "RandomNoise", "inputs": {"noise_seed": 2**63 + 12345}},
        "16": {"class_type": "KSamplerSelect", "inputs": {"sampler_name": "euler"}},
        "17": {"class_type": "BasicScheduler", "inputs": {"scheduler": "simple", "steps": 20, "denoise": 1.0,
                                                          "model": ["12", 0]}},
        "27": {"class_type": "EmptySD3LatentImage", "inputs": {"width": 1024, "height": 768, "batch_size": 1}},
        "13": {"class_type": "SamplerCustomAdvanced", "inputs": {
            "noise": ["25", 0], "guider": ["22", 0], "sampler": ["16", 0], "sigmas": ["17", 0],
            "latent_image": ["27", 0]}},
        "8": {"class_type": "VAEDecode", "inputs": {"samples": ["13", 0], "vae": ["10", 0]}},
        "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "flux", "images": ["8", 0]}},
    }


def comfyui_png(path: Path, graph: dict[str, Any]) -> Path:
    workflow = {"last_node_id": 30, "nodes": [], "links": [], "version": 0.4}
    return png_with_text(path, {"prompt": json.dumps(graph), "workflow": json.dumps(workflow)})


def comfyui_webp(path: Path, graph: dict[str, Any]) -> Path:
    """SaveAnimatedWEBP: EXIF Model (0x0110) = "prompt:{…}", Make (0x010F) = "workflow:{…}"."""
    exif = _pixels().getexif()
    exif[0x0110] = "prompt:{}".format(json.dumps(graph))
    exif[0x010F] = "workflow:{}".format(json.dumps({"nodes": []}))
    _pixels().save(path, "WEBP", exif=exif, lossless=True)
    return path


# -- InvokeAI ----------------------------------------------------------------------------------


def invokeai_v5(path: Path) -> Path:
    data = {
        "generation_mode": "sdxl_txt2img", "positive_prompt": "a lighthouse, volumetric light",
        "negative_prompt": "people", "width": 1024, "height": 1024, "seed": 4000000000, "rand_device": "cpu",
        "cfg_scale": 6, "cfg_rescale_multiplier": 0, "steps": 30, "scheduler": "dpmpp_2m_k",
        "model": {"key": "7e1f", "hash": "blake3:3be1f5a2c4", "name": "juggernautXL", "base": "sdxl", "type": "main"},
        "loras": [], "app_version": "5.4.2",
    }
    return png_with_text(path, {"invokeai_metadata": json.dumps(data), "invokeai_graph": "{}"})


def invokeai_v2(path: Path) -> Path:
    """InvokeAI 2.x: `sd-metadata` (RFC 266 layout) plus the `Dream` command line."""
    prompt = "a fantasy landscape, trending on artstation [blurry, lowres]"
    metadata = {
        "model": "stable diffusion", "model_id": "stable-diffusion-1.5",
        "model_hash": "cc6cb27103417325ff94f52b7a5d2dde45a7515b25c255d8e396c90014281516",
        "app_id": "invoke-ai/InvokeAI", "app_version": "2.2.5",
        "image": {"prompt": [{"prompt": prompt, "weight": 1.0}], "steps": 50, "cfg_scale": 7.5, "threshold": 0,
                  "perlin": 0, "height": 512, "width": 768, "seed": 3357757885, "seamless": False,
                  "hires_fix": False, "type": "txt2img", "postprocessing": None, "sampler": "k_euler_a",
                  "variations": []},
    }
    dream = f'"{prompt}" -s 50 -S 3357757885 -W 768 -H 512 -C 7.5 -A k_euler_a'
    return png_with_text(path, {"Dream": dream, "sd-metadata": json.dumps(metadata)})


def invokeai_v1(path: Path) -> Path:
    """InvokeAI 1.x (the `dream` script): only the command line."""
    dream = '"an astronaut riding a horse [low quality]" -s 40 -S 1234567 -W 512 -H 640 -C 8.0 -A ddim -I init.png -f 0.6'
    return png_with_text(path, {"Dream": dream})


# -- Fooocus -----------------------------------------------------------------------------------


def fooocus_metadata() -> dict[str, Any]:
    """Fooocus' own scheme: its metadata list as a sorted JSON object (strings as Fooocus writes them)."""
    data = {
        "adaptive_cfg": 7, "adm_guidance": "(1.5, 0.8, 0.3)", "base_model": "juggernautXL_v8Rundiffusion",
        "base_model_hash": "aeb7e9e6897a1e58b10494bd989d001e3d4bc9b634633cd7b559838f612c2867",
        "full_negative_prompt": ["(worst quality, low quality:1.4)"],
        "full_prompt": ["a cat wearing a space suit", "highly detailed"], "guidance_scale": 4,
        "loras": [["sd_xl_offset_example-lora_1.0", 0.1, "4852686128"]], "metadata_scheme": "fooocus",
        "negative_prompt": "", "performance": "Speed", "prompt": "a cat wearing a space suit",
        "prompt_expansion": "a cat wearing a space suit, highly detailed", "refiner_model": "None",
        "refiner_switch": 0.5, "resolution": "(1152, 896)", "sampler": "dpmpp_2m_sde_gpu", "scheduler": "karras",
        "seed": "8457315208234795716", "sharpness": 2, "steps": 30, "styles": "['Fooocus V2', 'Fooocus Enhance']",
        "vae": "Default (model)", "version": "Fooocus v2.5.5",
    }
    return data


def fooocus_png(path: Path) -> Path:
    return png_with_text(path, {"parameters": json.dumps(fooocus_metadata()), "fooocus_scheme": "fooocus"})


def fooocus_jpeg(path: Path) -> Path:
    """Fooocus' get_exif(): UserComment, Software and MakerNote straight in IFD0."""
    exif = Image.Exif()
    exif[0x9286] = json.dumps(fooocus_metadata())
    exif[0x0131] = "Fooocus v2.5.5"
    exif[0x927C] = "fooocus"
    _pixels().save(path, "JPEG", exif=exif, quality=90)
    return path


def fooocus_a1111_png(path: Path) -> Path:
    text = (
        "a cat wearing a space suit, highly detailed\nNegative prompt: ugly\n"
        "Steps: 30, Sampler: DPM++ 2M SDE Karras, Seed: 8457315208234795716, Size: 1152x896, CFG scale: 4, "
        "Sharpness: 2, ADM Guidance: \"(1.5, 0.8, 0.3)\", Model: juggernautXL_v8Rundiffusion, "
        "Performance: Speed, Scheduler: karras, Version: Fooocus v2.5.5"
    )
    return png_with_text(path, {"parameters": text, "fooocus_scheme": "a1111"})


# -- NovelAI -----------------------------------------------------------------------------------

NOVELAI_COMMENT = {
    "prompt": "1girl, looking at viewer, cherry blossoms, best quality", "steps": 28, "height": 1216,
    "width": 832, "scale": 5.0, "uncond_scale": 1.0, "cfg_rescale": 0.0, "seed": 2710364458, "n_samples": 1,
    "noise_schedule": "karras", "sampler": "k_dpmpp_2m", "sm": False, "sm_dyn": False,
    "uc": "lowres, bad anatomy, bad hands", "request_type": "PromptGenerateRequest",
}


def novelai_chunks() -> dict[str, str]:
    return {
        "Title": "NovelAI generated image",
        "Description": NOVELAI_COMMENT["prompt"],
        "Software": "NovelAI",
        "Source": "Stable Diffusion XL C1E1DE52",
        "Generation time": "4.7",
        "Comment": json.dumps(NOVELAI_COMMENT),
    }


def novelai_png(path: Path) -> Path:
    return png_with_text(path, novelai_chunks())


def _hide_in_alpha(image: Image.Image, signature: str, payload: bytes) -> Image.Image:
    """Embed like the stealth writers: signature, 32-bit bit length, data; alpha LSB, column by column."""
    bits = "".join(format(b, "08b") for b in signature.encode()) + format(len(payload) * 8, "032b")
    bits += "".join(format(b, "08b") for b in payload)
    array = np.array(image)
    height, width = array.shape[:2]
    assert len(bits) <= width * height, "image too small for the payload"
    alpha = array[..., 3].T.reshape(-1).copy()  # x outer, y inner
    alpha[: len(bits)] = (alpha[: len(bits)] & 0xFE) | np.frombuffer(bits.encode(), np.uint8) - ord("0")
    array[..., 3] = alpha.reshape(width, height).T
    return Image.fromarray(array, "RGBA")


def novelai_stealth_png(path: Path) -> Path:
    """NovelAI's hidden copy: the whole text block as gzip JSON behind `stealth_pngcomp`."""
    payload = gzip.compress(json.dumps(novelai_chunks()).encode())
    _hide_in_alpha(_pixels((96, 96), "RGBA"), "stealth_pngcomp", payload).save(path, "PNG")
    return path


def a1111_stealth_png(path: Path) -> Path:
    """sd_webui_stealth_pnginfo, alpha mode, uncompressed: the `parameters` text itself."""
    _hide_in_alpha(_pixels((96, 96), "RGBA"), "stealth_pnginfo", A1111_TEXT.encode()).save(path, "PNG")
    return path


# -- photos with words -------------------------------------------------------------------------

XMP_PACKET = """<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/">
   <dc:title><rdf:Alt><rdf:li xml:lang="x-default">Harbour &amp; boats</rdf:li></rdf:Alt></dc:title>
   <dc:description><rdf:Alt><rdf:li xml:lang="x-default">Fishing boats moored at Whitby harbour</rdf:li></rdf:Alt></dc:description>
   <dc:subject><rdf:Bag><rdf:li>harbour</rdf:li><rdf:li>boats</rdf:li></rdf:Bag></dc:subject>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>"""


def photo_with_xmp(path: Path) -> Path:
    exif = Image.Exif()
    exif[0x010E] = "Evening at the harbour"
    _pixels().save(path, "JPEG", exif=exif, xmp=XMP_PACKET.encode("utf-8"), quality=90)
    return path
