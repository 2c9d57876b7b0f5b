"""What the packaged app holds besides the code PyInstaller finds by itself.

Plain Python (no PyInstaller import), so `tests/test_packaging.py` can check the same lists the
spec uses without running a build. The spec loads this file by path: the folder is called
`packaging`, which would shadow the `packaging` distribution if it were imported as a package.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
APP_NAME = "latent-studio"
DISPLAY_NAME = "Latent Studio"
BUNDLE_ID = "org.latentstudio.LatentStudio"
ICON_PNG = REPO / "resources" / "icons" / "latent-studio.png"
ICON_ICO = REPO / "resources" / "icons" / "latent-studio.ico"

# Packages whose non-code files are read at run time, collected file by file. Our own package
# is listed so that any data file placed next to the code travels with it.
# open_clip reads model_configs/*.json when it is imported and bpe_simple_vocab_16e6.txt.gz for
# every CLIP tokenizer (ours included, see models/clip_bpe.py). diffusers and
# transformers read no data files of their own (their configs come from the model folders and
# from resources/). timm (open_clip's towers for ConvNeXt and some SigLIP models) keeps small
# tables next to its code: class names in data/_info, pruned-model layouts in models/_pruned.
# kernels (required by transformers 5.2x) reads _internals/python_depends.json when imported.
DATA_PACKAGES = ("latentstudio", "open_clip", "timm", "kernels")

# Folders of this repository copied verbatim to the same place inside the bundle; the app finds
# them through `latentstudio.models.catalogue.resources_dir()` (`sys._MEIPASS/resources`).
RESOURCE_DIRS = ("resources",)

# Distributions whose metadata must exist in the bundle: `latent-studio doctor` and `--version`
# read these versions, transformers and diffusers check several at import and refuse to start
# without them (transformers' hook adds the rest of its table).
METADATA_PACKAGES = (
    "latent-studio",
    "torch",
    "torchvision",
    "open-clip-torch",
    "diffusers",
    "transformers",
    "peft",  # diffusers loads LoRAs through it only when it finds its metadata
    "tokenizers",
    "safetensors",
    "huggingface-hub",
    "PySide6",
    "pillow",
    "numpy",
    "tqdm",
    "regex",
    "packaging",
    "filelock",
    "requests",
    "pyyaml",
    "platformdirs",
    "pygments",
    "accelerate",
    "onnxruntime",
    "onnx",
)

# Loaded by name at run time (lazy modules, `getattr(diffusers, class_name)` for a pipeline's
# components, `AutoModelForCausalLM` picking `transformers.models.<arch>`), so the import
# graph alone misses them. Whole packages: a user may import any architecture. accelerate is
# found with `find_spec` before model CPU offload (imagegen/loading.py), never imported directly.
# sentence-transformers builds a text-embedding model from the class names in its modules.json,
# and projects/chunking.py imports each tree-sitter grammar by name: both loaded by name.
HIDDEN_IMPORT_PACKAGES = ("latentstudio", "diffusers", "transformers", "open_clip", "pygments", "accelerate", "peft",
                          "sentence_transformers", "tree_sitter_python", "tree_sitter_javascript",
                          "tree_sitter_typescript", "tree_sitter_go", "tree_sitter_rust")

# Submodules of the packages above that need software we do not ship.
HIDDEN_IMPORT_SKIP = (
    "flax", "onnx", "_tf_", "tensorflow", "jax", "deepspeed", ".testing", "tests", "test_utils",
    "accelerate.commands", "transformers.commands", "diffusers.commands",  # their own CLIs
)

# Native libraries loaded by path at run time, which PyInstaller's analysis cannot see, as
# (package, glob inside it): torchvision's operator libraries (`torch.ops.load_library`; without
# them importing torchvision fails, and open_clip and transformers import it), and NVRTC's
# builtins, which libnvrtc opens itself when torch compiles a CUDA kernel at run time.
NATIVE_LIBRARIES = (("torchvision", "*"), ("nvidia", "*/lib/libnvrtc-builtins*"))
OPTIONAL_NATIVE_PACKAGES = ("nvidia",)  # the CUDA wheels' libraries: Linux CUDA builds only

# Shipped as source as well as bytecode: torch.jit.script (open_clip's optional scripting) and
# transformers' TorchScript paths read the source of the functions they compile.
SOURCE_PACKAGES = ("open_clip", "timm", "transformers", "diffusers")

# Never in the bundle: the test and build tools, notebooks and plotting, and the big Qt modules
# the app does not use. triton (~0.9 GB) only serves torch.compile, which the app does not call.
EXCLUDED_MODULES = (
    "tests",
    "pytest",
    "_pytest",
    "pytestqt",
    "pytest_timeout",
    "pip",
    "PyInstaller",
    "IPython",
    "ipykernel",
    "jupyter_client",
    "notebook",
    "matplotlib",
    "tkinter",
    "triton",
    "tensorboard",
    "ray",  # the optional `cluster` extra: installed for the command line, never bundled
    "pyarrow",
    "torch.utils.tensorboard",
    "PySide6.QtWebEngineCore",
    "PySide6.QtWebEngineWidgets",
    "PySide6.QtWebEngineQuick",
    "PySide6.QtWebChannel",
    "PySide6.QtWebSockets",
    "PySide6.QtQml",
    "PySide6.QtQuick",
    "PySide6.QtQuick3D",
    "PySide6.QtQuickWidgets",
    "PySide6.Qt3DCore",
    "PySide6.Qt3DRender",
    "PySide6.QtCharts",
    "PySide6.QtDataVisualization",
    "PySide6.QtGraphs",
    "PySide6.QtMultimedia",
    "PySide6.QtMultimediaWidgets",
    "PySide6.QtPdf",
    "PySide6.QtPdfWidgets",
    "PySide6.QtDesigner",
    "PySide6.QtBluetooth",
    "PySide6.QtLocation",
    "PySide6.QtPositioning",
    "PySide6.QtSensors",
    "PySide6.QtSerialPort",
    "PySide6.QtTextToSpeech",
)

# Files that must exist in the finished one-folder build (relative to its `_internal/`), checked
# by build_linux.sh right after PyInstaller: the Qt platform plugins the window needs
# (xcb on X11 desktops, wayland, offscreen for the smoke test) and the data listed above.
REQUIRED_IN_BUILD_LINUX = (
    "PySide6/Qt/plugins/platforms/libqxcb.so",
    "PySide6/Qt/plugins/platforms/libqwayland.so",
    "PySide6/Qt/plugins/platforms/libqoffscreen.so",
    "open_clip/bpe_simple_vocab_16e6.txt.gz",
    "open_clip/model_configs/ViT-B-32.json",
    "resources/models.json",
    "resources/icons/latent-studio.png",
    "resources/icons/phosphor-1.3.0-subset.ttf",
    "torchvision/_C_stable.so",
)

_NATIVE_SUFFIXES = (".so", ".pyd", ".dll", ".dylib")
_CODE_SUFFIXES = (".py", ".pyc", ".pyi", *_NATIVE_SUFFIXES)
_SKIP_NAMES = ("py.typed",)


def package_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"package {package!r} is not installed")
    return Path(next(iter(spec.submodule_search_locations))).resolve()


def package_data_files(package: str) -> list[tuple[str, str]]:
    """(source file, destination folder) for every non-code file inside an installed package."""
    root = package_dir(package)
    base = root.parent
    found = []
    for path in sorted(root.rglob("*")):
        if not path.is_file() or "__pycache__" in path.parts:
            continue
        if path.name.endswith(_CODE_SUFFIXES) or path.name in _SKIP_NAMES:
            continue
        found.append((str(path), str(path.parent.relative_to(base))))
    return found


def is_native_library(path: Path) -> bool:
    return path.is_file() and (path.name.endswith(_NATIVE_SUFFIXES) or ".so." in path.name)


def native_libraries() -> list[tuple[str, str]]:
    """(source file, destination folder) for the native libraries in NATIVE_LIBRARIES."""
    found = []
    for package, pattern in NATIVE_LIBRARIES:
        try:
            root = package_dir(package)
        except ModuleNotFoundError:
            if package in OPTIONAL_NATIVE_PACKAGES:
                continue
            raise
        for path in sorted(root.glob(pattern)):
            if is_native_library(path):
                found.append((str(path), str(path.parent.relative_to(root.parent))))
    return found


def resource_files(repo: Path = REPO) -> list[tuple[str, str]]:
    found = []
    for folder in RESOURCE_DIRS:
        for path in sorted((repo / folder).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                found.append((str(path), str(path.parent.relative_to(repo))))
    return found


def data_files(repo: Path = REPO) -> list[tuple[str, str]]:
    """Everything the spec hands PyInstaller as `datas` (besides distribution metadata)."""
    files = resource_files(repo)
    for package in DATA_PACKAGES:
        files += package_data_files(package)
    return files


def bundled_paths(repo: Path = REPO) -> set[str]:
    """Paths the data files get inside the bundle, relative to its root, with `/` separators."""
    return {f"{Path(dest).as_posix()}/{Path(src).name}" for src, dest in data_files(repo)}


def keep_hidden_import(name: str) -> bool:
    # Our own modules are all kept (models.text_encoding.onnx_tower is the app's, not an optional backend).
    return name.startswith("latentstudio.") or not any(part in name for part in HIDDEN_IMPORT_SKIP)


def submodules(package: str) -> list[str]:
    """Every module of an installed package, from its files: nothing is imported (PyInstaller's
    collect_submodules imports each subpackage, which takes many minutes for transformers)."""
    root = package_dir(package)
    names = []
    for path in sorted(root.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        parts = path.relative_to(root.parent).with_suffix("").parts
        if not all(part.isidentifier() for part in parts):
            continue
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        if keep_hidden_import(name):
            names.append(name)
    return names


def hidden_imports() -> list[str]:
    names: list[str] = []
    for package in HIDDEN_IMPORT_PACKAGES:
        names += submodules(package)
    return names
