"""What the exported models share: where each lives, the record of what it was made from, the
file checks made before it answers, and publishing a new export.

Each exported part — a CLIP tower (`text_encoding`, `image_encoding`), or a whole text-embedding
model (`projects.onnx_embedder`) — is exported once per model into the model's registry folder
(`<models>/clip/<id>/<tower>-onnx/`, `<models>/text-embedding/<id>/onnx/`), with a record
(`export.json`) of the model files it came from, the exporting versions, the SHA-256 of the ONNX
files, the size and time the files had when that hash was last checked, and the torch model's
vectors for probe inputs.

Loading hashes the files only when their size or time changed since the last check (hashing
ViT-B-32's text tower cost 0.27 s at every start); the probes are run at every load. A check that
fails makes the export unusable (logged and recorded): the torch model answers and the export is
made again. Never a wrong answer.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import logging
import os
import platform
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Optional, TypeVar

import numpy as np

from ..atomic_files import write_json
from .registry import InstalledModel

if TYPE_CHECKING:
    from ..engine import JobContext
    from .clip_loader import ClipModel

log = logging.getLogger(__name__)
T = TypeVar("T")

RECORD = "export.json"
RECORD_FORMAT = 1
MIN_COSINE = 0.999  # parity with the torch tower, at export (every input) and at load (probes)
HASH_CHUNK = 8 * 2**20
OPSET = 17

# Record statuses
READY = "ready"
FAILED = "failed"  # the export or its parity check failed for these files and versions
INVALID = "invalid"  # was ready, then failed a check at load: export again


class ExportUnavailable(RuntimeError):
    """A tower cannot run under onnxruntime now; the message says why (torch is used)."""


@dataclass(frozen=True)
class Tower:
    """One exported tower's names: its folder in the model's, its files, its words."""

    folder: str  # "text-onnx"
    onnx_file: str  # the graph
    weights_file: str  # its weights, beside it (onnxruntime maps them instead of copying)
    label: str  # "text tower", for `doctor` and the log
    made_after: str  # when an export is made, for "not prepared yet: made after …"
    choice_env: str  # "torch" there: never use this export (comparisons, troubleshooting)
    # Packing the weight matrices for the CPU's GEMM at session start pays off over many batches;
    # a query tower runs once per process (ViT-B-32's text tower: 0.2 s of its 0.43 s start).
    prepack_weights: bool = True
    # onnxruntime's threads for one run (0: one per core). A batch split into single-threaded runs
    # side by side keeps every core busier than one run spread over all of them (the picture
    # tower on two cores: 30 pictures/s against 24).
    run_threads: int = 0

    def export_folder(self, installed: InstalledModel) -> Path:
        return installed.folder / self.folder

    def file_names(self) -> tuple[str, str]:
        return self.onnx_file, self.weights_file


@dataclass(frozen=True)
class ExportStatus:
    ready: bool  # an export for the current model files exists (loading checks files and probes)
    exportable: bool  # an export can be made (now, or again) from the torch tower
    reason: str  # words for `doctor` and the log
    sha256: Optional[str] = None  # of the ready export's files, as recorded

    def to_json(self) -> dict[str, Any]:
        return {"ready": self.ready, "exportable": self.exportable, "reason": self.reason}

    @property
    def wanted(self) -> bool:
        """No checked export for the model's current files yet, and one can be made. (An export
        that is ready stays exportable, i.e. could be made again: that alone is no reason to.)"""
        return self.exportable and not self.ready


def available(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


# The files of a sentence-transformers folder that decide its vectors, besides its weights and
# its modules' configs: the encoder's config, the module list, the tokenizer.
SENTENCE_TRANSFORMERS_FILES = ("config.json", "modules.json", "sentence_bert_config.json", "tokenizer.json",
                               "tokenizer_config.json", "special_tokens_map.json")


def _sentence_transformers_files(folder: Path) -> list[Path]:
    """The weights (`*.safetensors`, the encoder's and any Dense module's) and configs of a
    sentence-transformers folder, as they are now; modules.json names the module folders."""
    modules = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
    module_folders = sorted({folder / str(m.get("path", "")) for m in modules if m.get("path")})
    files = [folder / name for name in SENTENCE_TRANSFORMERS_FILES] + sorted(folder.glob("*.safetensors"))
    for module in module_folders:
        files += [module / "config.json"] + sorted(module.glob("*.safetensors"))
    return [path for path in files if path.is_file()]


def source_files(installed: InstalledModel) -> list[Path]:
    """The model files the exports are made from."""
    if installed.format == "open_clip_hub":
        from .clip_loader import HUB_CONFIG, HUB_WEIGHTS

        return [installed.path / HUB_CONFIG, installed.path / HUB_WEIGHTS]
    if installed.format == "sentence_transformers":
        return _sentence_transformers_files(installed.path)
    return [installed.path]


def fingerprint(installed: InstalledModel) -> list[list[Any]]:
    """Name (in the model's folder), size and modification time of each source file (following
    links): cheap to check at every load, and it changes when the model is replaced."""
    try:
        paths = source_files(installed)
    except ValueError as exc:  # an unreadable modules.json
        raise OSError(f"modules.json cannot be read ({exc})") from exc
    root = installed.path if installed.path.is_dir() else installed.path.parent
    prints: list[list[Any]] = []
    for path in paths:
        st = path.stat()
        prints.append([path.relative_to(root).as_posix(), st.st_size, st.st_mtime_ns])
    return prints


def _open_clip_config(architecture: str) -> dict[str, Any]:
    """A built-in open_clip architecture's config, read from its package data without importing it."""
    spec = importlib.util.find_spec("open_clip")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("open_clip is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "model_configs" / f"{architecture}.json"
    return json.loads(path.read_text(encoding="utf-8"))


def model_config(installed: InstalledModel) -> dict[str, Any]:
    """The model's `model_cfg` (hub config, or the built-in config of its architecture)."""
    if installed.format == "open_clip_hub":
        from .clip_loader import HUB_CONFIG

        config = json.loads((installed.path / HUB_CONFIG).read_text(encoding="utf-8"))
        return dict(config.get("model_cfg") or {})
    if installed.format == "open_clip_checkpoint" and installed.architecture:
        return _open_clip_config(installed.architecture)
    raise ExportUnavailable(f"format {installed.format!r} has no open_clip towers")


def open_clip_config(installed: InstalledModel) -> tuple[Optional[dict[str, Any]], str]:
    """(the model's `model_cfg`, "") — or (None, why its towers cannot be exported)."""
    if installed.kind != "clip" or installed.format not in ("open_clip_hub", "open_clip_checkpoint"):
        return None, f"not an open_clip model ({installed.format})"
    try:
        return model_config(installed), ""
    except (OSError, ValueError, ExportUnavailable) as exc:
        return None, f"its config cannot be read ({exc})"


def read_record(folder: Path) -> Optional[dict[str, Any]]:
    try:
        record = json.loads((folder / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def write_record(folder: Path, record: dict[str, Any]) -> None:
    write_json(folder / RECORD, record)


def exporting_versions() -> dict[str, Optional[str]]:
    from importlib import metadata

    versions: dict[str, Optional[str]] = {}
    for name in ("torch", "open-clip-torch", "sentence-transformers", "transformers", "onnx", "onnxruntime"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def status(installed: InstalledModel, tower: Tower, unsupported: Optional[str]) -> ExportStatus:
    """Whether the tower's export is ready for this model, and if not, why and whether an export
    helps. Cheap (a stat and a small JSON file); loading does the full checks."""
    if os.environ.get(tower.choice_env, "").strip().lower() == "torch":
        return ExportStatus(False, False, f"torch {tower.label}: chosen by {tower.choice_env}=torch")
    if unsupported:
        return ExportStatus(False, False, f"torch {tower.label}: {unsupported}")
    missing = [m for m in ("onnxruntime", "onnx") if not available(m)]
    if "onnxruntime" in missing:
        return ExportStatus(False, False, f"torch {tower.label}: onnxruntime is not installed")
    exportable = not missing
    record = read_record(tower.export_folder(installed))
    cannot = "" if exportable else " (onnx, needed to export it, is not installed)"
    if record is None:
        return ExportStatus(False, exportable, f"not prepared yet: made after {tower.made_after}{cannot}")
    try:
        current = fingerprint(installed)
    except OSError as exc:
        return ExportStatus(False, False, f"torch {tower.label}: model files unreadable ({exc})")
    if record.get("format") != RECORD_FORMAT or record.get("fingerprint") != current:
        return ExportStatus(False, exportable, f"out of date: the model files changed since the export{cannot}")
    state = record.get("status")
    if state == READY:
        versions = ", ".join(f"{k} {v}" for k, v in (record.get("versions") or {}).items() if v)
        return ExportStatus(True, exportable, f"onnxruntime {tower.label}, exported with {versions}",
                            str(record.get("sha256")))
    if state == FAILED and record.get("versions") == exporting_versions():
        return ExportStatus(False, False, f"torch {tower.label}: the export failed ({record.get('reason')})")
    return ExportStatus(False, exportable, f"to be exported again: {record.get('reason')}{cannot}")


def files_sha256(folder: Path, tower: Tower) -> str:
    """SHA-256 over the graph and its weights file, in that order."""
    digest = hashlib.sha256()
    for name in tower.file_names():
        with open(folder / name, "rb") as fh:
            while chunk := fh.read(HASH_CHUNK):
                digest.update(chunk)
    return digest.hexdigest()


def file_stamps(folder: Path, tower: Tower) -> list[list[Any]]:
    """Name, size and modification time of the exported files."""
    return [[name, (folder / name).stat().st_size, (folder / name).stat().st_mtime_ns] for name in tower.file_names()]


def runtime() -> str:
    """What runs the exports here. Probes that passed with unchanged files and the same runtime on
    the same kind of processor would give the same vectors again: they are not run again."""
    import onnxruntime  # loaded for the session anyway; its metadata would cost 35-100 ms more

    return f"onnxruntime {onnxruntime.__version__} on {platform.machine()}"


def files_changed(folder: Path, tower: Tower, record: dict[str, Any]) -> tuple[Optional[str], bool]:
    """(why the exported files cannot be trusted — None: they can —, whether their probes must
    run). Hashed only when their size or time differs from the last check's; a hash that matches
    records the new stamps."""
    try:
        stamps = file_stamps(folder, tower)
        if stamps == record.get("stamps"):
            return None, record.get("probed_with") != runtime()
        if files_sha256(folder, tower) != record.get("sha256"):
            return "the exported file's SHA-256 differs from the record (corrupt)", True
    except OSError as exc:
        return f"the exported files cannot be read ({exc})", True
    try:
        write_record(folder, {**record, "stamps": stamps})
    except OSError:  # a read-only models folder: the hash is checked again next time
        log.warning("could not record the checked stamps of %s", folder)
    return None, True


def invalidate(installed: InstalledModel, tower: Tower, record: dict[str, Any], reason: str) -> ExportUnavailable:
    """Mark a ready export unusable (it is made again) and say why; the exception to raise."""
    log.warning("the ONNX %s of %s is not used: %s; using the torch %s and exporting again",
                tower.label, installed.id, reason, tower.label)
    try:
        write_record(tower.export_folder(installed), {**record, "status": INVALID, "reason": reason})
    except OSError:
        log.exception("could not mark the %s export of %s as invalid", tower.label, installed.id)
    return ExportUnavailable(reason)


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1) + 1e-12)


def new_session(path: Path, threads: int = 0, prepack_weights: bool = True) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    # Idle intra-op threads would spin, taking cycles from decoding on the same cores.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if not prepack_weights:
        options.add_session_config_entry("session.disable_prepacking", "1")
    options.intra_op_num_threads = threads
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


class OnnxEncoder:
    """An exported tower run by onnxruntime: one input in, unit float32 vectors (N, D) out."""

    def __init__(self, session: Any, embed_dim: int, nbytes: int, name: str):
        self.session = session
        self.embed_dim = embed_dim
        self.nbytes = nbytes  # for the engine's model cache
        self.name = name
        self._input = session.get_inputs()[0].name

    def run(self, batch: np.ndarray) -> np.ndarray:
        features = self.session.run(None, {self._input: batch})[0].astype(np.float32, copy=False)
        return features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)


def cpu_float32(clip: "ClipModel", installed: InstalledModel) -> "ClipModel":
    """The torch model to export: the loaded one when it is on the CPU in float32, else a copy
    loaded so (exported graphs are device-neutral; float16 on the CPU is not what runs there)."""
    import torch

    from .clip_loader import load_installed_clip

    if clip.device.type == "cpu" and clip.dtype == torch.float32:
        return clip
    return load_installed_clip(installed, torch.device("cpu"), torch.float32)


@contextlib.contextmanager
def cached_in_job(job: "JobContext", key: str, load: Callable[[], T], message: str = "") -> Iterator[Optional[T]]:
    """`with cached_in_job(job, key, load) as encoder:` — a checked export from the engine's CPU
    cache (no device detection), loaded once; None when a check failed (the loader logs why)."""
    with contextlib.ExitStack() as stack:
        encoder = None
        if message and key not in job.cpu_models:
            job.progress(0, None, message)
        try:
            encoder = stack.enter_context(job.cpu_models.use(key, load))
        except ExportUnavailable:
            encoder = None
        yield encoder


def save_with_external_weights(traced: Path, staging: Path, tower: Tower) -> Path:
    """The traced graph as onnxruntime's basic optimisations leave it (constants folded, redundant
    nodes removed: the same on every CPU, so done once here instead of at every session start),
    with its weights in a file beside it, which onnxruntime maps instead of copying out of the
    protobuf. ViT-B-32's text tower: session 0.2 s and 212 MB instead of 0.5 s and 400 MB with the
    weights inside; with the graph already optimised, 0.13 s instead of 0.22 s."""
    import onnxruntime as ort

    path = staging / tower.onnx_file
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    options.optimized_model_filepath = str(path)
    options.add_session_config_entry("session.optimized_model_external_initializers_file_name", tower.weights_file)
    options.add_session_config_entry("session.optimized_model_external_initializers_min_size_in_bytes", "1024")
    ort.InferenceSession(str(traced), options, providers=["CPUExecutionProvider"])
    traced.unlink()
    return path


def publish(installed: InstalledModel, tower: Tower, build: Callable[[Path], dict[str, Any]]) -> dict[str, Any]:
    """Make an export with `build(staging)` (its record: READY with the files written, or FAILED
    with a reason) and move it into place; the record written. Any exception from `build` is
    recorded as a failure for these model files and versions, so it is not retried until they change."""
    versions = exporting_versions()
    files = fingerprint(installed)
    final = tower.export_folder(installed)
    # Exports run one at a time on the inference thread: any staging folder already here was left
    # by a process that ended mid-export (the window ends its process soon after close).
    for stale in final.parent.glob(f".{final.name}-*"):
        if stale.is_dir():
            log.info("removing %s, left by an export that did not finish", stale)
            shutil.rmtree(stale, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{final.name}-", dir=final.parent))
    started = time.perf_counter()
    try:
        try:
            record = build(staging)
        except Exception as exc:  # the exporter and onnxruntime raise many kinds of errors
            log.exception("exporting the %s of %s failed", tower.label, installed.id)
            record = {"status": FAILED, "reason": f"export failed: {type(exc).__name__}: {exc}"}
        record.update(format=RECORD_FORMAT, model_id=installed.id, fingerprint=files, versions=versions,
                      opset=OPSET, created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                      seconds=round(time.perf_counter() - started, 2))
        if record["status"] == READY:
            record["sha256"] = files_sha256(staging, tower)
            record["stamps"] = file_stamps(staging, tower)  # renaming the folder keeps them
            record["probed_with"] = runtime()  # the parity check just ran here
        else:
            for leftover in staging.iterdir():
                leftover.unlink()
        write_record(staging, record)
        old = final.with_name(f".{final.name}-old")
        if final.exists():
            shutil.rmtree(old, ignore_errors=True)
            final.rename(old)
        staging.rename(final)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    log.info("%s of %s: %s (%s s)", tower.label, installed.id, record.get("reason") or record["status"], record["seconds"])
    return record


def open_checked(
    installed: InstalledModel,
    tower: Tower,
    state: ExportStatus,
    expected_sha256: Optional[str],
    alongside: Callable[[dict[str, Any]], T],
) -> tuple[dict[str, Any], Any, T, bool]:
    """(record, onnxruntime session, `alongside(record)`, whether the probes must run) of a ready
    export whose files passed their check. The check and the session are made on helper threads
    (both release the GIL) while `alongside` runs here, so loading costs little wall time.
    ExportUnavailable says why not."""
    if not state.ready:
        raise ExportUnavailable(state.reason)
    if expected_sha256 is not None and state.sha256 != expected_sha256:
        raise ExportUnavailable("the export changed while it was being loaded")
    folder = tower.export_folder(installed)
    record = read_record(folder) or {}
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="latent-onnx-load") as pool:
        changed = pool.submit(files_changed, folder, tower, record)
        session = pool.submit(new_session, folder / tower.onnx_file, tower.run_threads, tower.prepack_weights)
        extra = alongside(record)
        try:
            loaded = session.result()
        except Exception as exc:  # onnxruntime raises its own exception types for unreadable graphs
            raise invalidate(installed, tower, record, f"onnxruntime cannot load the exported file ({exc})") from None
        reason, probes_needed = changed.result()
    if reason:
        raise invalidate(installed, tower, record, reason)
    return record, loaded, extra, probes_needed


def check_probes(installed: InstalledModel, tower: Tower, record: dict[str, Any],
                 run: Callable[[dict[str, Any]], np.ndarray]) -> float:
    """The worst cosine between `run(probe)` and the torch tower's recorded probe vectors, recorded
    as passed with this runtime; ExportUnavailable (the export marked invalid) when they disagree
    or cannot be run."""
    probe = record.get("probe") or {}
    try:
        ours = run(probe)
        worst = float(cosines(ours, np.asarray(probe["vectors"], dtype=np.float32)).min())
    except Exception as exc:  # a graph that loads but cannot run these inputs
        raise invalidate(installed, tower, record, f"the probes failed to run ({exc})") from None
    if not worst >= MIN_COSINE:
        raise invalidate(installed, tower, record,
                         f"probe vectors disagree with the torch {tower.label} (cosine {worst:.5f})")
    folder = tower.export_folder(installed)
    try:  # the newest record: the file check may have added stamps
        write_record(folder, {**(read_record(folder) or record), "probed_with": runtime()})
    except OSError:
        log.warning("could not record the passed probes of %s", folder)
    return worst


def probes_checked(installed: InstalledModel, tower: Tower, record: dict[str, Any], needed: bool,
                   run: Callable[[dict[str, Any]], np.ndarray]) -> str:
    """Words for the log on how a loaded export was checked: its probes run now when `needed`
    (`check_probes`, which raises when they disagree), else passed before."""
    if not needed:
        return "probes passed before with these files and this runtime"
    return f"probe cosine {check_probes(installed, tower, record, run):.5f}"


def parity_failure(worst: float) -> Optional[dict[str, Any]]:
    """The FAILED record of an export whose worst cosine with the torch model is too low, or None."""
    if worst >= MIN_COSINE:
        return None
    return {"status": FAILED, "reason": f"parity check failed (cosine {worst:.5f} < {MIN_COSINE})"}
