"""Schedulers ("samplers") by the names users know from AUTOMATIC1111, ComfyUI and InvokeAI."""

from __future__ import annotations

from typing import Any, Optional

# Our name -> (diffusers class, config overrides). The names are AUTOMATIC1111's.
SCHEDULERS: dict[str, tuple[str, dict[str, Any]]] = {
    "Euler": ("EulerDiscreteScheduler", {}),
    "Euler a": ("EulerAncestralDiscreteScheduler", {}),
    "Heun": ("HeunDiscreteScheduler", {}),
    "DPM++ 2M": ("DPMSolverMultistepScheduler", {"algorithm_type": "dpmsolver++", "use_karras_sigmas": False}),
    "DPM++ 2M Karras": ("DPMSolverMultistepScheduler", {"algorithm_type": "dpmsolver++", "use_karras_sigmas": True}),
    "DPM++ 2M SDE": ("DPMSolverMultistepScheduler", {"algorithm_type": "sde-dpmsolver++", "use_karras_sigmas": False}),
    "DPM++ 2M SDE Karras": (
        "DPMSolverMultistepScheduler",
        {"algorithm_type": "sde-dpmsolver++", "use_karras_sigmas": True},
    ),
    "DDIM": ("DDIMScheduler", {}),
    "PLMS": ("PNDMScheduler", {"skip_prk_steps": True}),
    "UniPC": ("UniPCMultistepScheduler", {}),
    # Few-step models (LCM, Turbo, Lightning) sample with trailing timesteps.
    "LCM": ("LCMScheduler", {"timestep_spacing": "trailing"}),
}
SCHEDULER_NAMES = tuple(SCHEDULERS)
DEFAULT_SCHEDULER = "DPM++ 2M Karras"
FEW_STEPS = 8

# AUTOMATIC1111 (>= 1.9) writes the sampler and its schedule type separately.
A1111_SCHEDULE_TYPES = {"Karras": "Karras"}

# ComfyUI sampler_name (+ scheduler) and InvokeAI scheduler ids.
COMFYUI_SAMPLERS = {
    "euler": "Euler",
    "euler_ancestral": "Euler a",
    "heun": "Heun",
    "dpmpp_2m": "DPM++ 2M",
    "dpmpp_2m_sde": "DPM++ 2M SDE",
    "ddim": "DDIM",
    "dpmpp_2m_sde_gpu": "DPM++ 2M SDE",  # the same solver, its noise drawn on the GPU
    "uni_pc": "UniPC",
    "uni_pc_bh2": "UniPC",
    "lcm": "LCM",
}
INVOKEAI_SCHEDULERS = {
    "euler": "Euler",
    "euler_a": "Euler a",
    "heun": "Heun",
    "dpmpp_2m": "DPM++ 2M",
    "dpmpp_2m_k": "DPM++ 2M Karras",
    "dpmpp_2m_sde": "DPM++ 2M SDE",
    "dpmpp_2m_sde_k": "DPM++ 2M SDE Karras",
    "ddim": "DDIM",
    "pndm": "PLMS",
    "unipc": "UniPC",
    "lcm": "LCM",
}

# InvokeAI 1.x/2.x (`-A` / `sampler`) and NovelAI (`sampler`, with `noise_schedule`).
INVOKEAI_LEGACY_SAMPLERS = {
    "ddim": "DDIM",
    "plms": "PLMS",
    "k_euler": "Euler",
    "k_euler_a": "Euler a",
    "k_heun": "Heun",
    "k_dpmpp_2": "DPM++ 2M",
}
NOVELAI_SAMPLERS = {
    "k_euler": "Euler",
    "k_euler_ancestral": "Euler a",
    "k_dpmpp_2m": "DPM++ 2M",
    "k_dpmpp_2m_sde": "DPM++ 2M SDE",
    "ddim": "DDIM",
    "ddim_v3": "DDIM",
}


def canonical_scheduler(name: str) -> Optional[str]:
    """Our name for a scheduler named loosely ("euler a", "DPM++ 2M Karras"), or None."""
    wanted = " ".join(name.split()).casefold()
    for known in SCHEDULER_NAMES:
        if known.casefold() == wanted:
            return known
    return None


def from_a1111(sampler: str, schedule_type: Optional[str] = None) -> Optional[str]:
    name = sampler
    if schedule_type and schedule_type in A1111_SCHEDULE_TYPES and not sampler.endswith(schedule_type):
        name = f"{sampler} {A1111_SCHEDULE_TYPES[schedule_type]}"
    return canonical_scheduler(name)


def to_a1111(name: str) -> tuple[str, Optional[str]]:
    """(Sampler, Schedule type) as AUTOMATIC1111 writes them."""
    if name.endswith(" Karras"):
        return name[: -len(" Karras")], "Karras"
    return name, None


def from_comfyui(sampler_name: str, scheduler: str = "normal") -> Optional[str]:
    base = COMFYUI_SAMPLERS.get(sampler_name)
    if base is None:
        return None
    return (canonical_scheduler(f"{base} Karras") or base) if scheduler == "karras" else base


def from_novelai(sampler: str, noise_schedule: Optional[str] = None) -> Optional[str]:
    base = NOVELAI_SAMPLERS.get(sampler)
    if base is None:
        return None
    return (canonical_scheduler(f"{base} Karras") or base) if noise_schedule == "karras" else base


def make_scheduler(name: str, base_config: dict[str, Any], steps: Optional[int] = None) -> Any:
    """A fresh scheduler of that kind, keeping the model's training schedule (betas, prediction type).

    At few steps (Turbo, LCM, Lightning models) timesteps are spaced from the end ("trailing"):
    the "leading" spacing of SD's own configs would start denoising from a half-noisy timestep.
    """
    import diffusers

    if name not in SCHEDULERS:
        raise ValueError(f"unknown scheduler {name!r}; choose one of: {', '.join(SCHEDULER_NAMES)}")
    class_name, overrides = SCHEDULERS[name]
    scheduler_class = getattr(diffusers, class_name)
    config = {**base_config, **overrides}
    if steps is not None and steps <= FEW_STEPS:
        config["timestep_spacing"] = "trailing"
    return scheduler_class.from_config(config)
