"""Installed models: `<models>/<kind>/<id>/` holding `manifest.json` and the model itself.

Installs are atomic: files are copied into a hidden staging folder next to the final
one and renamed into place with the manifest already written, so an interrupted copy
never looks like an installed model.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import threading
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Optional

from ..atomic_files import write_json
from ..stored_formats import NewerFormatError, format_number
from .addons import ADDON_KINDS, preview_for
from .detect import KINDS, DetectedModel, UnsupportedModelError, detect_model
from .pickle_import import convert, convert_file, is_pickle, needs_conversion

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
# 0: release 0.1.0 (no number); 1: numbered; 2: the cached "file_sha256" of a single-file model.
# Readers accept every older format.
MANIFEST_VERSION = 2
HASH_CHUNK = 4 * 2**20
MODEL_DIR = "model"
DEFAULTS_FILE = "defaults.json"
KIND_LABELS = {"clip": "CLIP", "diffusion": "image generation", "llm": "code generation",
               "lora": "LoRA", "embedding": "embedding (textual inversion)",
               "text-embedding": "text-embedding", "upscaler": "upscaler"}
KIND_TITLES = {"clip": "Photo search (CLIP)", "diffusion": "Image generation", "llm": "Code generation",
               "lora": "LoRAs", "embedding": "Embeddings (textual inversion)",
               "text-embedding": "Project search (text embeddings)",
               "upscaler": "Upscalers (super-resolution)"}
PREVIEW_FILE = "preview.png"  # an add-on's picture, copied beside its manifest
# Kinds whose pickle files (A1111 .pt embeddings, ESRGAN .pth upscalers) are plain tensors: importing
# one as that kind reads it with torch's weights_only unpickler without a further opt-in.
WEIGHTS_ONLY_KINDS = ("embedding", "upscaler")


class ModelNotFoundError(KeyError):
    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "model not found"


class MissingModelError(LookupError):
    """No model of a kind is installed: the UI shows a card offering download or import."""

    def __init__(self, kind: str):
        self.kind = kind
        super().__init__(
            f"No {KIND_LABELS.get(kind, kind)} model is installed. "
            f"Download one from the Models page or import it with "
            f"`latent-studio models import PATH --kind {kind}`."
        )


@dataclass(frozen=True)
class InstalledModel:
    id: str
    kind: str
    format: str
    folder: Path
    entry: str  # path of the model inside `folder` (a folder or a file)
    source: str
    size_bytes: int
    added: str
    linked: bool = False
    variant: Optional[str] = None
    architecture: Optional[str] = None
    extra: dict[str, Any] = field(default_factory=dict)
    file_sha256: Optional[dict[str, Any]] = None  # {"hex", "size", "mtime_ns"} of the file it was computed on

    @property
    def path(self) -> Path:
        """The model folder or file to hand to a loader."""
        return self.folder / self.entry

    @property
    def preview(self) -> Optional[Path]:
        """A LoRA's or embedding's picture, when one came with it."""
        path = self.folder / PREVIEW_FILE
        return path if path.is_file() else None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["folder"] = str(self.folder)
        data["path"] = str(self.path)
        return data


# Folder names that say what a folder holds, not which model: the parent folder names the model.
GENERIC_FOLDER_NAMES = frozenset({"diffusers", "model", "models", "weights", "checkpoint", "snapshot", "main"})
FORMAT_LABELS = {
    "open_clip_hub": "open_clip folder",
    "open_clip_checkpoint": "open_clip checkpoint",
    "diffusers": "diffusers folder",
    "sd_single_file": "single .safetensors file",
    "transformers": "transformers folder",
    "lora_kohya": "LoRA (kohya)",
    "lora_diffusers": "LoRA (diffusers/PEFT)",
    "embedding_a1111": "embedding (A1111)",
    "embedding_diffusers": "embedding (diffusers)",
    "embedding_sdxl": "embedding (SDXL)",
    "sentence_transformers": "sentence-transformers folder",
    "upscaler_spandrel": "upscaler (spandrel)",
}


def format_label(fmt: str) -> str:
    """A model format as people name it ("single .safetensors file"), never the internal name."""
    return FORMAT_LABELS.get(fmt, fmt.replace("_", " "))


def model_name_for(source: Path) -> str:
    """A name for an imported model: the model's own file or folder name, or, when that only says
    what the folder holds (".../sd-turbo/diffusers"), its parent's."""
    name = source.stem if source.is_file() else source.name
    if name.lower() in GENERIC_FOLDER_NAMES and source.parent.name:
        name = source.parent.name
    return slugify(name)


def slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9._-]+", "-", name.lower()).strip("-.")
    return slug[:64] or "model"


def _tree_size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())




class ModelRegistry:
    def __init__(self, root: Path):
        self.root = root
        # kind -> (the manifests' (name, mtime, size) when read, the models read): queries made
        # on the GUI thread stat the manifests instead of reading and parsing every one again.
        self._cache: dict[str, tuple[tuple, list[InstalledModel]]] = {}
        self._cache_lock = threading.Lock()

    # -- queries -------------------------------------------------------------------------

    def list(self, kind: Optional[str] = None) -> list[InstalledModel]:
        models = []
        for kind_name in [kind] if kind else KINDS:
            models += self._list_kind(kind_name)
        return models

    def _list_kind(self, kind: str) -> list[InstalledModel]:
        """A kind's models, read again only when a manifest was added, removed or rewritten (by
        this process or another one, e.g. the command line installing a model)."""
        kind_dir = self.root / kind
        manifests = []
        try:
            for folder in sorted(kind_dir.iterdir()):
                if not folder.name.startswith("."):
                    with contextlib.suppress(OSError):
                        st = (folder / MANIFEST).stat()
                        manifests.append((folder, st.st_mtime_ns, st.st_size))
        except OSError:  # no such kind folder yet
            return []
        stamp = tuple((folder.name, mtime, size) for folder, mtime, size in manifests)
        with self._cache_lock:
            cached = self._cache.get(kind)
            if cached is not None and cached[0] == stamp:
                return list(cached[1])
        models = []
        for folder, _, _ in manifests:
            try:
                models.append(self._read_manifest(folder))
            except (OSError, ValueError, KeyError, TypeError) as exc:
                log.warning("ignoring model folder %s: unreadable manifest (%s)", folder, exc)
        with self._cache_lock:
            self._cache[kind] = (stamp, models)
        return list(models)

    def get(self, model_id: str) -> InstalledModel:
        for model in self.list():
            if model.id == model_id:
                return model
        raise ModelNotFoundError(f"no installed model with id {model_id!r}")

    def defaults(self) -> dict[str, str]:
        path = self.root / DEFAULTS_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return {k: v for k, v in data.items() if k in KINDS and isinstance(v, str)}

    def default(self, kind: str) -> Optional[InstalledModel]:
        installed = self.list(kind)
        chosen = self.defaults().get(kind)
        for model in installed:
            if model.id == chosen:
                return model
        return installed[0] if installed else None

    def resolve(self, kind: str, model_id: Optional[str] = None) -> InstalledModel:
        """The model to use: the given id, else the kind's default; MissingModelError if none."""
        if model_id:
            model = self.get(model_id)
            if model.kind != kind:
                raise ValueError(f"model {model_id!r} is a {model.kind} model, not {kind}")
            return model
        model = self.default(kind)
        if model is None:
            raise MissingModelError(kind)
        return model

    # -- changes -------------------------------------------------------------------------

    def set_default(self, model_id: str) -> InstalledModel:
        model = self.get(model_id)
        defaults = self.defaults()
        defaults[model.kind] = model.id
        self.root.mkdir(parents=True, exist_ok=True)
        write_json(self.root / DEFAULTS_FILE, defaults)
        return model

    def import_path(
        self,
        source: Path,
        kind: Optional[str] = None,
        model_id: Optional[str] = None,
        link: bool = False,
        architecture: Optional[str] = None,
        weights_only: bool = False,
    ) -> InstalledModel:
        """Copy (or link) a local model folder or file in, after checking it can be loaded.

        `weights_only` opts in to pickle checkpoints: they are read with torch's weights_only
        unpickler and installed as a .safetensors copy (so they cannot be linked).
        """
        source = Path(source).expanduser()
        weights_only = weights_only or kind in WEIGHTS_ONLY_KINDS
        if weights_only and needs_conversion(source):
            if link:
                raise UnsupportedModelError(
                    f"{source.name} holds pickle weights, which are converted to .safetensors on "
                    "import: it cannot be linked; import a copy instead"
                )
            name = model_id or model_name_for(source)
            self.root.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(prefix=".converting-", dir=self.root) as workdir:
                converted = convert(source.resolve(), Path(workdir))
                return self._import_checked(converted, kind, name, False, architecture, str(source.resolve()))
        name = model_id or model_name_for(source)
        return self._import_checked(source, kind, name, link, architecture, str(source.resolve()))

    def _import_checked(
        self,
        source: Path,
        kind: Optional[str],
        name: str,
        link: bool,
        architecture: Optional[str],
        origin: str,
    ) -> InstalledModel:
        detected = detect_model(source)
        if kind and kind != detected.kind:
            raise UnsupportedModelError(
                f"{source.name} is a {detected.kind} model ({detected.format}), not {kind}"
            )
        if detected.format == "open_clip_checkpoint" and not architecture:
            raise UnsupportedModelError(
                f"{source.name} is a bare open_clip checkpoint: give its architecture name "
                "(e.g. --arch ViT-B-32)"
            )
        preview = preview_for(Path(origin)) if detected.kind in ADDON_KINDS else None

        def populate(staging: Path) -> None:
            self._place(source.resolve(), staging, link)
            if preview is not None:  # a small picture: copied even for a linked add-on
                shutil.copy2(preview, staging / PREVIEW_FILE)

        return self._install(
            detected,
            name,
            source=origin,
            populate=populate,
            linked=link,
            architecture=architecture,
            single_file=source.name if source.is_file() else None,
        )

    def install_staged(
        self,
        staged: Path,
        model_id: str,
        source: str,
        extra: Optional[dict[str, Any]] = None,
        architecture: Optional[str] = None,
        kind: Optional[str] = None,
    ) -> InstalledModel:
        """Move a finished, verified download (a folder) into the registry.

        A download of one pickle file of a tensors-only kind (an upscaler .pth) is installed as
        its weights_only-converted .safetensors copy, as an import of it would be."""
        files = [p for p in staged.iterdir() if p.is_file()] if staged.is_dir() else []
        if kind in WEIGHTS_ONLY_KINDS and len(files) == 1 and is_pickle(files[0]) and len(list(staged.iterdir())) == 1:
            converted = staged.parent / f".converted-{model_id}"
            converted.mkdir(exist_ok=True)
            staged = converted
            convert_file(files[0], converted / f"{files[0].stem}.safetensors")
            files = list(converted.iterdir())
        if len(files) == 1 and files[0].suffix == ".safetensors" and len(list(staged.iterdir())) == 1:
            staged = files[0]  # an add-on (a LoRA, an embedding) is one file, installed as the file
        detected = detect_model(staged)
        single = None
        if staged.is_file():
            single = staged.name
        return self._install(
            detected,
            model_id,
            source=source,
            populate=lambda staging: shutil.move(str(staged), staging / MODEL_DIR / (single or "")),
            linked=False,
            architecture=architecture,
            single_file=single,
            extra=extra,
        )

    def file_sha256(self, model: InstalledModel, checkpoint: Optional[Callable[[], None]] = None) -> Optional[str]:
        """SHA-256 of a single-file model (None for folders), computed once and cached in its manifest.

        The cache holds the file's size and mtime, so a linked file replaced in place is hashed
        again. `checkpoint` is called between chunks (a job's cancel point).
        """
        path = model.path
        if not path.is_file():
            return None
        stat = path.stat()
        cached = model.file_sha256 or {}
        if (cached.get("size"), cached.get("mtime_ns")) == (stat.st_size, stat.st_mtime_ns):
            return str(cached["hex"])
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            while chunk := fh.read(HASH_CHUNK):
                if checkpoint is not None:
                    checkpoint()
                digest.update(chunk)
        hex_digest = digest.hexdigest()
        manifest = model.folder / MANIFEST
        try:
            data = json.loads(manifest.read_text(encoding="utf-8"))
            # An older manifest gains the new key (and number); nothing it held is lost.
            data["manifest_version"] = MANIFEST_VERSION
            data["file_sha256"] = {"hex": hex_digest, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
            write_json(manifest, data)
        except (OSError, ValueError) as exc:  # a read-only models folder: hash again next time
            log.warning("could not cache the hash of %s in its manifest: %s", model.id, exc)
        return hex_digest

    def remove(self, model_id: str) -> int:
        """Delete an installed model; returns the bytes freed (0 for a linked import)."""
        model = self.get(model_id)
        freed = 0 if model.linked else model.size_bytes
        trash = model.folder.with_name(f".removing-{model.folder.name}")
        os.replace(model.folder, trash)
        shutil.rmtree(trash, ignore_errors=True)
        defaults = self.defaults()
        if defaults.get(model.kind) == model.id:
            del defaults[model.kind]
            remaining = self.list(model.kind)
            if remaining:
                defaults[model.kind] = remaining[0].id
            write_json(self.root / DEFAULTS_FILE, defaults)
        return freed

    # -- internals -----------------------------------------------------------------------

    def _install(
        self,
        detected: DetectedModel,
        model_id: str,
        source: str,
        populate: Any,
        linked: bool,
        architecture: Optional[str] = None,
        single_file: Optional[str] = None,
        extra: Optional[dict[str, Any]] = None,
    ) -> InstalledModel:
        model_id = slugify(model_id)
        if any(m.id == model_id for m in self.list()):
            raise FileExistsError(f"a model with id {model_id!r} is already installed; choose another id")
        kind_dir = self.root / detected.kind
        kind_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".staging-{model_id}-", dir=kind_dir))
        try:
            if single_file:
                (staging / MODEL_DIR).mkdir()
            populate(staging)
            entry = f"{MODEL_DIR}/{single_file}" if single_file else MODEL_DIR
            manifest = {
                "manifest_version": MANIFEST_VERSION,
                "id": model_id,
                "kind": detected.kind,
                "format": detected.format,
                "entry": entry,
                "source": source,
                "size_bytes": _tree_size(staging / entry),
                "added": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "linked": linked,
                "variant": detected.variant,
                "architecture": architecture,
                "extra": {**detected.details, **(extra or {})},
            }
            write_json(staging / MANIFEST, manifest)
            final = kind_dir / model_id
            os.rename(staging, final)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        if detected.kind not in ADDON_KINDS and detected.kind not in self.defaults():
            defaults = self.defaults()
            defaults[detected.kind] = model_id
            write_json(self.root / DEFAULTS_FILE, defaults)
        log.info("installed %s model %s from %s", detected.kind, model_id, source)
        return self._read_manifest(final)

    @staticmethod
    def _place(source: Path, staging: Path, link: bool) -> None:
        target = staging / MODEL_DIR
        if source.is_file():
            target = target / source.name
        if link:
            target.symlink_to(source, target_is_directory=source.is_dir())
        elif source.is_dir():
            shutil.copytree(source, target)
        else:
            shutil.copy2(source, target)

    @staticmethod
    def _read_manifest(folder: Path) -> InstalledModel:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        found = format_number(data, "manifest_version")
        if found > MANIFEST_VERSION:
            raise NewerFormatError(folder / MANIFEST, found, MANIFEST_VERSION, "a model manifest")
        digest = data.get("file_sha256")
        if not (isinstance(digest, dict) and isinstance(digest.get("hex"), str)
                and re.fullmatch(r"[0-9a-f]{64}", digest["hex"])):
            digest = None
        entry = str(data.get("entry", MODEL_DIR))
        # The manifest is a file on disk: never let it point outside its own folder.
        parts = Path(entry).parts
        if Path(entry).is_absolute() or ".." in parts or not parts or parts[0] != MODEL_DIR or len(parts) > 2:
            raise ValueError(f"manifest entry {entry!r} is not inside the model folder")
        return InstalledModel(
            id=str(data["id"]),
            kind=str(data["kind"]),
            format=str(data["format"]),
            folder=folder,
            entry=entry,
            source=str(data.get("source", "")),
            size_bytes=int(data.get("size_bytes", 0)),
            added=str(data.get("added", "")),
            linked=bool(data.get("linked", False)),
            variant=data.get("variant"),
            architecture=data.get("architecture"),
            extra=dict(data.get("extra") or {}),
            file_sha256=digest,
        )
