"""ComfyUI's `prompt` chunk: the executed graph in API form, `{node_id: {class_type, inputs}}`.

An input is either a value or a link `[node_id, output_index]`. The settings of an image are
those of the sampler that fed the node saving it (a hires-fix graph has two samplers; the
second one made the saved pixels); every other sampler is kept in extras. Links are followed
through pass-through nodes (LoRA loaders, reroutes, conditioning combiners) and value nodes
(primitives, seed nodes), to a bounded depth so a cyclic graph cannot hang the reader.
"""

from __future__ import annotations

from typing import Any, Iterable, Optional

from ..schedulers import from_comfyui
from .addons import comfyui_addons
from .values import (
    ImageMetadata,
    check_float,
    check_guidance,
    check_name,
    check_seed,
    check_size,
    check_steps,
    check_text,
    extra_text,
    json_object,
)

MAX_DEPTH = 16
MAX_NODES = 5_000
SAMPLERS = ("KSampler", "KSamplerAdvanced", "SamplerCustom", "SamplerCustomAdvanced")
SAVERS = ("SaveImage", "PreviewImage", "SaveAnimatedWEBP", "SaveAnimatedPNG", "Image Save")
# Inputs that hold a value in the many primitive / seed / text nodes (core and common packs).
VALUE_INPUTS = ("value", "seed", "noise_seed", "int", "number", "string", "text", "Text", "float")
PROMPT_INPUTS = ("text", "text_g", "prompt", "string", "value", "Text")
MODEL_INPUTS = ("ckpt_name", "unet_name", "model_name")

Graph = dict[str, Any]


def _node(graph: Graph, link: Any) -> Optional[dict[str, Any]]:
    if not (isinstance(link, list) and len(link) == 2 and isinstance(link[0], (str, int))):
        return None
    node = graph.get(str(link[0]))
    if isinstance(node, dict) and isinstance(node.get("inputs"), dict):
        return node
    return None


def _is_link(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2 and isinstance(value[0], (str, int))


def resolve_value(graph: Graph, value: Any, names: Iterable[str] = VALUE_INPUTS, depth: int = 0) -> Any:
    """A literal input, or the value a link leads to through primitive / seed / reroute nodes."""
    names = tuple(names)
    while _is_link(value) and depth <= MAX_DEPTH:
        node = _node(graph, value)
        if node is None:
            return None
        inputs = node["inputs"]
        linked = [inputs[name] for name in names if name in inputs]
        if not linked:  # a reroute or other one-input pass-through
            linked = [v for v in inputs.values() if _is_link(v)][:1]
        if not linked:
            return None
        value = linked[0]
        depth += 1
    return None if _is_link(value) else value


def find_upstream(graph: Graph, link: Any, want: tuple[str, ...], depth: int = 0) -> Optional[dict[str, Any]]:
    """The inputs of the first node up a link whose inputs hold one of `want` (breadth by input order)."""
    if depth > MAX_DEPTH:
        return None
    node = _node(graph, link)
    if node is None:
        return None
    inputs = node["inputs"]
    if any(name in inputs for name in want):
        return inputs
    for value in inputs.values():
        found = find_upstream(graph, value, want, depth + 1)
        if found is not None:
            return found
    return None


def _prompt_text(graph: Graph, link: Any) -> str:
    """The text of the conditioning up a link (CLIPTextEncode, its SDXL form, or a linked string)."""
    inputs = find_upstream(graph, link, PROMPT_INPUTS)
    if inputs is None:
        return ""
    for name in PROMPT_INPUTS:
        if name in inputs:
            text = resolve_value(graph, inputs[name], ("value", "string", "text", "Text", "prompt"))
            if isinstance(text, str):
                return check_text(text)
    return ""


def _sampler_ids(graph: Graph) -> list[str]:
    return [key for key, node in graph.items() if isinstance(node, dict) and node.get("class_type") in SAMPLERS]


def _feeding_sampler(graph: Graph, link: Any, depth: int = 0) -> Optional[str]:
    """The id of the sampler nearest up a link (the one whose latents became these pixels)."""
    if depth > MAX_DEPTH or not _is_link(link):
        return None
    node = _node(graph, link)
    if node is None:
        return None
    if node.get("class_type") in SAMPLERS:
        return str(link[0])
    for name in ("samples", "images", "image", "latent", "latent_image", "pixels"):
        found = _feeding_sampler(graph, node["inputs"].get(name), depth + 1)
        if found is not None:
            return found
    for value in node["inputs"].values():
        found = _feeding_sampler(graph, value, depth + 1)
        if found is not None:
            return found
    return None


def _final_sampler(graph: Graph, samplers: list[str]) -> str:
    savers = [n for n in graph.values() if isinstance(n, dict) and n.get("class_type") in SAVERS]
    for saver in savers:
        if isinstance(saver.get("inputs"), dict):
            found = _feeding_sampler(graph, saver["inputs"].get("images"))
            if found is not None:
                return found
    # No saver we know (a custom one): the sampler whose latents no other sampler consumes.
    fed = {_feeding_sampler(graph, graph[s]["inputs"].get("latent_image")) for s in samplers}
    remaining = [s for s in samplers if s not in fed]
    return (remaining or samplers)[-1]


def _read_sampler(graph: Graph, sampler_id: str) -> dict[str, Any]:
    """The settings of one sampler node, whichever of the four sampler forms it is."""
    inputs = graph[sampler_id]["inputs"]
    kind = graph[sampler_id].get("class_type")
    found: dict[str, Any] = {"node": sampler_id, "class_type": kind}
    found["seed"] = resolve_value(graph, inputs.get("seed", inputs.get("noise_seed")))
    guider = None
    positive, negative = inputs.get("positive"), inputs.get("negative")
    cfg = inputs.get("cfg")
    sampler_name, scheduler = inputs.get("sampler_name"), inputs.get("scheduler")
    steps, denoise = inputs.get("steps"), inputs.get("denoise")
    if kind == "SamplerCustomAdvanced":  # noise, guider, sampler and sigmas are separate nodes
        noise = find_upstream(graph, inputs.get("noise"), ("noise_seed",)) or {}
        found["seed"] = resolve_value(graph, noise.get("noise_seed"))
        guider = _node(graph, inputs.get("guider"))
        if guider is not None:
            g = guider["inputs"]
            positive, negative = g.get("positive", g.get("conditioning")), g.get("negative")
            cfg = g.get("cfg")
    if kind in ("SamplerCustom", "SamplerCustomAdvanced"):
        chosen = find_upstream(graph, inputs.get("sampler"), ("sampler_name",)) or {}
        sampler_name = chosen.get("sampler_name")
        sigmas = find_upstream(graph, inputs.get("sigmas"), ("steps",)) or {}
        scheduler, steps, denoise = sigmas.get("scheduler", "normal"), sigmas.get("steps"), sigmas.get("denoise")
    flux = find_upstream(graph, positive, ("guidance",))
    if cfg is None and flux is not None:
        cfg = flux.get("guidance")
    found["prompt"] = _prompt_text(graph, positive)
    found["negative"] = _prompt_text(graph, negative)
    found["steps"] = resolve_value(graph, steps)
    found["cfg"] = resolve_value(graph, cfg)
    found["sampler_name"] = resolve_value(graph, sampler_name, ("sampler_name", "value"))
    found["scheduler"] = resolve_value(graph, scheduler, ("scheduler", "value"))
    found["denoise"] = resolve_value(graph, denoise)
    latent = find_upstream(graph, inputs.get("latent_image"), ("width",))
    if latent is not None:
        found["width"] = resolve_value(graph, latent.get("width"))
        found["height"] = resolve_value(graph, latent.get("height"))
    model_link = inputs.get("model")
    if model_link is None and kind == "SamplerCustomAdvanced" and guider is not None:
        model_link = guider["inputs"].get("model")
    checkpoint = find_upstream(graph, model_link, MODEL_INPUTS)
    if checkpoint is not None:
        found["model"] = next((checkpoint[n] for n in MODEL_INPUTS if n in checkpoint), None)
    return found


def parse_comfyui(text: str) -> Optional[ImageMetadata]:
    graph = json_object(text)
    if graph is None or len(graph) > MAX_NODES:
        return None
    samplers = [s for s in _sampler_ids(graph) if isinstance(graph[s].get("inputs"), dict)]
    if not samplers:
        return None
    final = _final_sampler(graph, samplers)
    settings = _read_sampler(graph, final)
    meta = ImageMetadata("comfyui")
    meta.prompt = settings["prompt"]
    meta.negative_prompt = settings["negative"]
    meta.seed = check_seed(settings["seed"])
    meta.steps = check_steps(settings["steps"])
    meta.guidance = check_guidance(settings["cfg"])
    sampler_name, scheduler = settings["sampler_name"], settings["scheduler"]
    if isinstance(sampler_name, str):
        meta.scheduler = from_comfyui(sampler_name, scheduler if isinstance(scheduler, str) else "normal")
        meta.extras["sampler_name"] = extra_text(sampler_name)
    if isinstance(scheduler, str):
        meta.extras["scheduler"] = extra_text(scheduler)
    denoise = check_float(settings["denoise"], 0, 1)
    meta.strength = denoise if denoise is not None and denoise < 1 else None
    meta.width, meta.height = check_size(settings.get("width")), check_size(settings.get("height"))
    meta.model = check_name(settings.get("model"))
    meta.loras, meta.embeddings = comfyui_addons(graph, meta.prompt, meta.negative_prompt)
    meta.extras["sampler node"] = f"{final} ({settings['class_type']})"
    for other in samplers:
        if other != final:
            summary = _read_sampler(graph, other)
            summary.pop("node")
            meta.extras[f"sampler {other}"] = extra_text(
                {k: v for k, v in summary.items() if v not in (None, "") and not _is_link(v)}
            )
    return meta
