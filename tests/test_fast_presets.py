"""Few-step presets chosen from the model or the LoRAs in use, and shown and applied on the form."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Callable

import pytest

from latentstudio.context import AppContext
from latentstudio.imagegen.presets import preset_for, preset_for_names


def test_presets_by_family_as_their_publishers_document_them() -> None:
    turbo = preset_for_names(["sd-turbo"])
    assert turbo is not None and (turbo.name, turbo.steps, turbo.guidance, turbo.scheduler) == ("SD-Turbo", 1, 0.0, "Euler a")
    assert preset_for_names(["sdxl-turbo"]).name == "SDXL-Turbo"  # type: ignore[union-attr]
    lightning = preset_for_names(["sdxl_lightning_8step_unet"])
    assert lightning is not None and (lightning.steps, lightning.scheduler) == (8, "Euler")
    hyper = preset_for_names(["Hyper-SDXL-2steps-lora"])
    assert hyper is not None and (hyper.name, hyper.steps) == ("Hyper-SD", 2)
    lcm = preset_for_names(["lcm-lora-sdv1-5"])
    assert lcm is not None and (lcm.scheduler, lcm.guidance) == ("LCM", 1.5)
    assert preset_for_names(["sd-1.5", "dreamshaper_8"]) is None


def test_preset_from_the_model_folder_or_an_lcm_lora(ctx: AppContext, tiny_models: Callable[[str], Path],
                                                     tmp_path: Path) -> None:
    plain = ctx.registry.import_path(tiny_models("diffusion-tiny") / "diffusers", kind="diffusion", model_id="tiny",
                                     link=True)
    assert preset_for(plain) is None
    lcm_folder = Path(shutil.copytree(tiny_models("diffusion-tiny") / "diffusers", tmp_path / "my-model"))
    index = json.loads((lcm_folder / "model_index.json").read_text())
    index["scheduler"] = ["diffusers", "LCMScheduler"]  # an LCM-distilled model says so in its index
    (lcm_folder / "model_index.json").write_text(json.dumps(index))
    distilled = ctx.registry.import_path(lcm_folder, kind="diffusion")
    assert preset_for(distilled).name == "LCM"  # type: ignore[union-attr]
    lora = ctx.registry.import_path(tiny_models("addons-tiny") / "kohya-style.safetensors", kind="lora",
                                    model_id="lcm-lora-sdv1-5")
    assert preset_for(plain, [lora]).name == "LCM"  # type: ignore[union-attr]


def test_catalogue_offers_sdxl_turbo_and_an_lcm_lora_with_licences_and_sizes() -> None:
    from latentstudio.models.catalogue import Catalogue

    catalogue = Catalogue.load()
    turbo, lcm = catalogue.get("sdxl-turbo"), catalogue.get("lcm-lora-sdv1-5")
    assert turbo.kind == "diffusion" and "non-commercial" in turbo.licence and 6 * 2**30 < turbo.size_bytes < 8 * 2**30
    assert {"text_encoder_2/model.safetensors", "model_index.json"} <= {f.save_as for f in turbo.files}
    assert lcm.kind == "lora" and "OpenRAIL" in lcm.licence and 100 * 2**20 < lcm.size_bytes < 200 * 2**20
    assert preset_for_names([turbo.id]).name == "SDXL-Turbo"  # type: ignore[union-attr]
    assert preset_for_names([lcm.id]).name == "LCM"  # type: ignore[union-attr]


def test_a_downloaded_add_on_installs_as_its_file(ctx: AppContext, tiny_models: Callable[[str], Path],
                                                   tmp_path: Path) -> None:
    staged = tmp_path / "files"
    staged.mkdir()
    shutil.copy(tiny_models("addons-tiny") / "kohya-style.safetensors", staged / "lcm-lora-sdv1-5.safetensors")
    model = ctx.registry.install_staged(staged, "lcm-lora-sdv1-5", "hub:latent-consistency/lcm-lora-sdv1-5",
                                        extra={"catalogue_id": "lcm-lora-sdv1-5"})
    assert (model.kind, model.format, model.path.name) == ("lora", "lora_kohya", "lcm-lora-sdv1-5.safetensors")
