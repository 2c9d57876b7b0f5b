"""`latent-studio`: no arguments opens the window; subcommands work headless."""

from __future__ import annotations

from . import process_start  # noqa: F401  (first import: records the start time as early as possible)

import argparse
import importlib
import json
import logging
import platform
import sqlite3
import sys
from typing import TYPE_CHECKING, Callable, Optional, Sequence

from . import __version__
from .models import MissingModelError, ModelNotFoundError, UnsupportedModelError
from .models.registry import format_label
from .units import format_bytes

if TYPE_CHECKING:
    from .models.onnx_exports import ExportStatus

log = logging.getLogger(__name__)

Handler = Callable[[argparse.Namespace, "AppContext"], int]  # noqa: F821

# Each module contributes its subcommands through `register(subparsers)`, and a command imports
# only its own module: a search must not pay for image generation's imports, nor the window for
# any (help and unknown commands import them all). A test holds this table to what they register.
COMMAND_MODULES = {
    "latentstudio.models.cli": ("models",),
    "latentstudio.imagegen.cli": ("describe", "generate-image", "info", "prompt-help", "upscale"),
    "latentstudio.library.cli": ("index", "library", "search"),
    "latentstudio.library.analysis.cli": ("duplicates", "map", "tag", "themes"),
    "latentstudio.library.exchange_cli": ("export-embeddings", "import-embeddings"),
    "latentstudio.codegen.cli": ("generate-code",),
    "latentstudio.projects.cli": ("code-search", "projects"),
}
WINDOW_COMMANDS = ("gui",)

USER_ERRORS = (
    MissingModelError,
    ModelNotFoundError,
    UnsupportedModelError,
    FileExistsError,
    FileNotFoundError,
    ValueError,
)

PACKAGES = (
    "latent-studio",
    "torch",
    "torchvision",
    "open-clip-torch",
    "diffusers",
    "transformers",
    "safetensors",
    "huggingface-hub",
    "PySide6",
    "pillow",
    "numpy",
    "onnxruntime",
    "onnx",
)


def _versions() -> dict[str, Optional[str]]:
    from importlib import metadata  # 35 ms: only `doctor` and `--version` ask

    versions: dict[str, Optional[str]] = {"python": platform.python_version(), "latent-studio": __version__}
    for name in PACKAGES:
        if name in versions:
            continue
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def cmd_doctor(args: argparse.Namespace, ctx: "AppContext") -> int:  # noqa: F821
    from .engine.device import default_memory_budget, detect_device, system_memory_bytes
    from .library.cluster_setup import cluster_support
    from .system_libraries import missing_qt_libraries

    device = detect_device(ctx.settings.device)
    report = {
        "versions": _versions(),
        "platform": platform.platform(),
        "device": device.to_json(),
        "memory": {
            "system_bytes": system_memory_bytes(),
            "model_budget_bytes": int(ctx.settings.memory_budget_gb * 2**30)
            or default_memory_budget(device),
        },
        "data_home": str(ctx.paths.home),
        "log_file": str(ctx.log_file),
        "models": [m.to_json() for m in ctx.registry.list()],
        "text_search": {m.id: _text_tower(m) for m in ctx.registry.list("clip")},
        "picture_encoding": {m.id: _picture_tower(m, device) for m in ctx.registry.list("clip")},
        "code_search": {m.id: _code_embedder(m) for m in ctx.registry.list("text-embedding")},
        "defaults": ctx.registry.defaults(),
        "settings_problems": ctx.settings.problems,
        "cluster": cluster_support(),
        "missing_qt_libraries": missing_qt_libraries(),
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"Latent Studio {report['versions']['latent-studio']} on {report['platform']}")
    for name, version in report["versions"].items():
        print(f"  {name:16} {version or 'not installed'}")
    print(f"Device:     {device.describe()}")
    budget = report["memory"]["model_budget_bytes"]
    print(f"Memory:     {format_bytes(report['memory']['system_bytes'] or 0)} RAM; "
          f"model budget {format_bytes(budget)}")
    print(f"Data home:  {ctx.paths.home}")
    print(f"Log file:   {ctx.log_file}")
    models = ctx.registry.list()
    print(f"Models:     {len(models)} installed")
    defaults = ctx.registry.defaults()
    for model in models:
        mark = "*" if defaults.get(model.kind) == model.id else " "
        print(f"  {mark} {model.kind:9} {model.id} ({format_label(model.format)}, {format_bytes(model.size_bytes)})")
    for model_id, tower in report["text_search"].items():
        print(f"Text search with {model_id}: {tower['reason']}")
    for model_id, tower in report["picture_encoding"].items():
        print(f"Indexing with {model_id}: {tower['reason']}")
    for model_id, embedder in report["code_search"].items():
        print(f"Code search with {model_id}: {embedder['reason']}")
    cluster = report["cluster"]
    if cluster["installed"]:
        print("Cluster:    supported (" + ", ".join(f"{n} {v}" for n, v in cluster["versions"].items()) + ")")
    else:
        print(f"Cluster:    not installed ({cluster['hint']})")
    if report["missing_qt_libraries"]:
        packages = " ".join(report["missing_qt_libraries"])
        print(f"Window:     missing system libraries: {packages}\n"
              f"            install them with: sudo apt-get install {packages}")
    for problem in ctx.settings.problems:
        print(f"Settings:   {problem}")
    return 0


def _checked(status: "ExportStatus", load: Callable[[], object], label: str) -> dict:
    """A tower's status; a ready export is loaded and checked (files, probes) here, as its first
    use would."""
    from .models.onnx_exports import ExportStatus, ExportUnavailable

    if status.ready:
        try:
            load()
        except ExportUnavailable as exc:
            status = ExportStatus(False, True, f"torch {label}: the export failed its check ({exc})")
    return status.to_json()


def _text_tower(installed) -> dict:
    """Which text tower answers text queries with this CLIP model."""
    from .models.text_encoding import onnx_tower

    return _checked(onnx_tower.status(installed), lambda: onnx_tower.load_text_encoder(installed), "text tower")


def _picture_tower(installed, device) -> dict:
    """Which picture tower indexes with this CLIP model on this device, and why."""
    from .models.image_encoding import onnx_tower

    if device.is_gpu:
        return {"ready": False, "exportable": False,
                "reason": f"torch picture tower on the {device.kind.upper()} (faster than onnxruntime on the CPU)"}
    return _checked(onnx_tower.status(installed), lambda: onnx_tower.load_image_encoder(installed), "picture tower")


def _code_embedder(installed) -> dict:
    """Which text-embedding model answers code searches with this model: the ONNX export or torch, and why."""
    from .projects import onnx_embedder

    return _checked(onnx_embedder.status(installed), lambda: onnx_embedder.load_onnx_embedder(installed),
                    "text-embedding model")


def cmd_gui(args: argparse.Namespace, ctx: "AppContext") -> int:  # noqa: F821
    from .app import run_gui

    return run_gui(ctx, quit_after_shown=args.quit_after_shown)


def command_modules(argv: Sequence[str]) -> list[str]:
    """The modules whose commands `argv` may need: none for the window, one for a known command."""
    if not argv or argv[0] in WINDOW_COMMANDS or argv[0] == "doctor":
        return []
    owners = [module for module, commands in COMMAND_MODULES.items() if argv[0] in commands]
    return owners or list(COMMAND_MODULES)


def build_parser(modules: Sequence[str] = tuple(COMMAND_MODULES)) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="latent-studio",
        description="Search your photos by description, generate images and code — offline.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    gui = sub.add_parser("gui", help="open the window (the default)")
    gui.add_argument(
        "--quit-after-shown",
        action="store_true",
        help="print window-shown-ms (process start to first paint) and exit: a smoke test",
    )
    gui.set_defaults(func=cmd_gui)

    doctor = sub.add_parser("doctor", help="versions, device, memory, data home, installed models")
    doctor.add_argument("--json", action="store_true")
    doctor.set_defaults(func=cmd_doctor)

    for name in modules:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Optional[Sequence[str]] = None, process_ends: bool = False) -> int:
    """Run one command; `process_ends`: the process ends right after, so loaded models are not
    released one by one."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(command_modules(argv))
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args(["gui", *argv])

    from .context import AppContext

    ctx = AppContext()
    try:
        code = int(args.func(args, ctx) or 0)
        if ctx.library_opened and (recovery := ctx.library.take_recovery()) is not None:
            print(f"error: {recovery.describe()}", file=sys.stderr)  # a command that used the library
            return code or 1
        return code
    except USER_ERRORS as exc:
        log.info("command failed: %s", exc)
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except sqlite3.DatabaseError as exc:
        if isinstance(exc, sqlite3.OperationalError):  # locked, full disk: not damage
            raise
        log.exception("a database is damaged")
        from .library.store.recovery import mark_suspect

        mark_suspect(ctx.paths.library_db)
        print(f"error: a data file is damaged ({exc}). The library is checked each time it opens: run the "
              "command again to set the damaged file aside and rebuild the library.", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        ctx.close(release_models=not process_ends)


def run() -> None:
    """The `latent-studio` command: `main`, then the process ends without the interpreter's
    teardown once the stores are closed (0.1 s of a 0.5 s text search)."""
    from .process_exit import exit_now

    exit_now(main(process_ends=True))


def run_window() -> None:
    """The `latent-studio-gui` launcher (no console window on Windows): `latent-studio gui`."""
    from .process_exit import exit_now

    exit_now(main(["gui", *sys.argv[1:]], process_ends=True))


if __name__ == "__main__":
    run()
