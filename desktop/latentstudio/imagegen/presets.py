"""Settings for few-step models: SD-Turbo, SDXL-Turbo, SDXL-Lightning, Hyper-SD and LCM (model or
LCM-LoRA) sample in 1 to 8 steps with little or no guidance, and look wrong with the 25 steps and
CFG 7 that suit ordinary models. The preset is chosen from the model (its id, where it came from,
its scheduler) or the LoRAs in use, as their publishers document them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Iterable, Optional

from ..models.registry import InstalledModel


@dataclass(frozen=True)
class FastPreset:
    name: str
    steps: int
    guidance: float
    scheduler: str
    note: str

    def describe(self) -> str:
        return f"{self.name}: {self.steps} step{'s' if self.steps > 1 else ''}, CFG {self.guidance:g}, {self.scheduler}"


_STEPS = re.compile(r"(\d)[-_ ]?steps?")


def _steps_in(text: str, default: int) -> int:
    match = _STEPS.search(text)
    return int(match.group(1)) if match else default


def preset_for_names(names: Iterable[str]) -> Optional[FastPreset]:
    """The preset for the first name that says which few-step family it is."""
    for raw in names:
        text = raw.lower()
        if "lightning" in text:
            steps = _steps_in(text, 4)
            return FastPreset("SDXL-Lightning", steps, 0.0, "Euler",
                              f"trained for {steps} steps; Euler with trailing timesteps, no guidance")
        if "hyper" in text:
            steps = _steps_in(text, 8)
            return FastPreset("Hyper-SD", steps, 0.0, "DDIM",
                              f"trained for {steps} steps; DDIM with trailing timesteps, no guidance")
        if "lcm" in text or "latent-consistency" in text:
            return FastPreset("LCM", 6, 1.5, "LCM", "4 to 8 steps, CFG 1 to 2, the LCM scheduler")
        if "turbo" in text:
            family = "SDXL-Turbo" if "xl" in text else "SD-Turbo"
            return FastPreset(family, 1, 0.0, "Euler a",
                              "1 to 4 steps without guidance (negative prompts have no effect), at 512x512")
    return None


def _scheduler_class(model: InstalledModel) -> str:
    if not model.path.is_dir():
        return ""
    try:
        index = json.loads((model.path / "model_index.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ""
    scheduler = index.get("scheduler") if isinstance(index, dict) else None
    return str(scheduler[1]) if isinstance(scheduler, list) and len(scheduler) == 2 else ""


def preset_for(model: Optional[InstalledModel], loras: Iterable[InstalledModel] = ()) -> Optional[FastPreset]:
    """A few-step preset for `model` with `loras` (an LCM/Lightning/Hyper LoRA decides), or None."""
    names = []
    for lora in loras:
        names += [lora.id, lora.source.replace("\\", "/").rsplit("/", 1)[-1]]
    if model is not None:
        where = "/".join(model.source.replace("\\", "/").split("/")[-2:])  # its own folder names, not the user's
        names += [model.id, str(model.extra.get("catalogue_id", "")), where]
        if _scheduler_class(model) == "LCMScheduler":
            names.append("lcm")
    return preset_for_names(n for n in names if n)
