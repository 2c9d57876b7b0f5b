"""Import a whole folder of models at once (e.g. a `Stable-diffusion/` folder of checkpoints).

A folder that is not itself a model (none of the marker files a model folder has) is read as
a collection: each model file or model folder directly inside it is imported on its own, and
each refusal is reported with its reason while the others go on.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

from .detect import PICKLE_SUFFIXES, UnsupportedModelError
from .registry import WEIGHTS_ONLY_KINDS, InstalledModel, ModelRegistry

MODEL_FOLDER_MARKERS = ("open_clip_config.json", "model_index.json", "config.json")
MODEL_FILE_SUFFIXES = (".safetensors",) + PICKLE_SUFFIXES


@dataclass(frozen=True)
class ImportOutcome:
    path: Path
    model: Optional[InstalledModel] = None
    error: Optional[str] = None


def is_model_folder(folder: Path) -> bool:
    return any((folder / marker).is_file() for marker in MODEL_FOLDER_MARKERS)


def collection_members(folder: Path, weights_only: bool = False) -> list[Path]:
    """Model files and model folders directly inside `folder`, or [] if it is a model itself."""
    if not folder.is_dir() or is_model_folder(folder):
        return []
    suffixes = MODEL_FILE_SUFFIXES if weights_only else (".safetensors",)
    members = []
    for child in sorted(folder.iterdir()):
        if child.name.startswith("."):
            continue
        if child.is_file() and child.suffix.lower() in suffixes:
            members.append(child)
        elif child.is_dir() and is_model_folder(child):
            members.append(child)
    return members


def ids_for_members(folder: Path, members: list[Path], model_ids: Sequence[str]) -> list[Optional[str]]:
    """One id per member: none given names each from its file, one per member in listed order;
    any other count is refused (an id silently dropped would install under a name nobody chose)."""
    if not model_ids:
        return [None] * len(members)
    if len(model_ids) == len(members):
        return list(model_ids)
    found = ", ".join(m.name + ("/" if m.is_dir() else "") for m in members)
    raise ValueError(
        f"{folder.name} holds {len(members)} models ({found}) but {len(model_ids)} --id "
        f"{'was' if len(model_ids) == 1 else 'were'} given: give one --id per model, in this order, "
        "or none to name each after its file, or import one model by its own path"
    )


def import_collection(
    registry: ModelRegistry,
    folder: Path,
    kind: Optional[str] = None,
    link: bool = False,
    weights_only: bool = False,
    on_each: Optional[Callable[[ImportOutcome], None]] = None,
    model_ids: Sequence[str] = (),
) -> list[ImportOutcome]:
    members = collection_members(folder, weights_only)
    if not members:
        raise UnsupportedModelError(
            f"{folder.name}: neither a model folder nor a folder holding models "
            "(.safetensors files or model folders)"
        )
    ids = ids_for_members(folder, members, model_ids)  # refuses before anything is imported
    outcomes = []
    for path, model_id in zip(members, ids):
        try:
            model = registry.import_path(path, kind=kind, model_id=model_id, link=link, weights_only=weights_only)
            outcome = ImportOutcome(path, model=model)
        except (UnsupportedModelError, FileExistsError, OSError) as exc:
            outcome = ImportOutcome(path, error=str(exc))
        outcomes.append(outcome)
        if on_each is not None:
            on_each(outcome)
    return outcomes


def import_any(
    registry: ModelRegistry,
    path: Path,
    kind: Optional[str] = None,
    link: bool = False,
    weights_only: bool = False,
) -> list[ImportOutcome]:
    """One model, or every model of a collection folder. A single model's refusal raises."""
    weights_only = weights_only or kind in WEIGHTS_ONLY_KINDS
    if collection_members(path, weights_only):
        return import_collection(registry, path, kind, link, weights_only)
    return [ImportOutcome(path, model=registry.import_path(path, kind=kind, link=link, weights_only=weights_only))]
