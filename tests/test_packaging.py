"""The packaged app's contents: every file the app reads at run time is in the spec's lists.

These tests read `packaging/bundle_contents.py` (the lists the PyInstaller spec uses) and compare
them with what the code reads, found two ways: statically (file names in our source that name a
shipped file) and by running the app's loading paths under an audit hook that records every
file opened. No PyInstaller run: a build takes many minutes (see packaging/README.md).
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import plistlib
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGING = REPO / "packaging"
SOURCE = REPO / "desktop" / "latentstudio"

# Third-party packages whose own files our code may name (e.g. open_clip's BPE vocabulary).
RUNTIME_PACKAGES = ("open_clip", "diffusers", "transformers", "timm", "huggingface_hub", "tokenizers")
DATA_NAME = re.compile(r"^[\w.\-/]+\.(json|txt|gz|yaml|yml|qss|svg|png|ico|csv|tsv|model|bin|tiktoken)$")
CODE_SUFFIXES = (".py", ".pyc", ".so", ".pyd", ".dll", ".dylib")


def load_contents() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bundle_contents", PACKAGING / "bundle_contents.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def contents() -> ModuleType:
    return load_contents()


@pytest.fixture(scope="module")
def bundled(contents: ModuleType) -> set[str]:
    return contents.bundled_paths()


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def source_strings() -> list[tuple[Path, str]]:
    found = []
    for path in sorted(SOURCE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found.append((path, node.value))
    return found


def test_every_resource_and_package_data_file_is_bundled(contents: ModuleType, bundled: set[str]) -> None:
    expected = set()
    for path in (REPO / "resources").rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts:
            expected.add(path.relative_to(REPO).as_posix())
    # Data placed next to our own code (a stylesheet, an icon) must travel with it.
    for path in SOURCE.rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts and not path.name.endswith(CODE_SUFFIXES):
            expected.add(path.relative_to(SOURCE.parent).as_posix())
    assert (REPO / "resources" / "models.json").is_file()
    assert "resources/models.json" in bundled
    assert expected <= bundled, f"not in the bundle: {sorted(expected - bundled)}"


def test_open_clip_configs_and_vocabulary_are_bundled(bundled: set[str]) -> None:
    import open_clip

    package = Path(open_clip.__file__).parent
    configs = {f"open_clip/model_configs/{p.name}" for p in (package / "model_configs").glob("*.json")}
    assert len(configs) > 10
    assert configs <= bundled, f"not in the bundle: {sorted(configs - bundled)[:5]}"
    assert "open_clip/bpe_simple_vocab_16e6.txt.gz" in bundled


def test_files_named_in_the_source_are_bundled(bundled: set[str]) -> None:
    """A file name in our code that names a file shipped in resources/ or in a package we use."""
    roots = {"resources": REPO / "resources"}
    for package in RUNTIME_PACKAGES:
        spec = importlib.util.find_spec(package)
        if spec and spec.submodule_search_locations:
            roots[package] = Path(next(iter(spec.submodule_search_locations)))
    named = []
    for path, text in source_strings():
        if not DATA_NAME.match(text):
            continue
        for prefix, root in roots.items():
            hits = [root / text] if (root / text).is_file() else list(root.rglob(Path(text).name))
            for hit in hits:
                if hit.is_file() and hit.as_posix().endswith(text):
                    named.append((path.name, f"{prefix}/{hit.relative_to(root).as_posix()}"))
    assert ("clip_bpe.py", "open_clip/bpe_simple_vocab_16e6.txt.gz") in named
    assert any(target == "resources/models.json" for _, target in named)
    missing = [(where, target) for where, target in named if target not in bundled]
    assert not missing, f"named in the source but not bundled: {missing}"


PROBE = r"""
import json, sys
from pathlib import Path
opened = set()
def record(event, args):
    if event in ("open", "ctypes.dlopen") and args and isinstance(args[0], str):
        opened.add(args[0])
sys.addaudithook(record)

import open_clip
import torch
from latentstudio.models.catalogue import Catalogue
from latentstudio.models.clip_loader import load_clip_folder
from latentstudio.codegen.loader import load_language_model
from latentstudio.engine import DeviceInfo
from latentstudio.imagegen.loading import bundled_config, load_folder, load_single_file

clip_folder, diffusion_root, llm_folder = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
Catalogue.load()
open_clip.list_models()
load_clip_folder(clip_folder).encode_text(["a red circle"])
load_folder(diffusion_root / "diffusers", torch.float32)
# A single-file checkpoint with its configs taken from a folder, as with the bundled ones.
load_single_file(diffusion_root / "tiny-sd1.safetensors", "sd1", torch.float32, diffusion_root / "diffusers")
for variant in ("sd1", "sd2", "sdxl"):
    for config in sorted(bundled_config(variant).rglob("*.json")):
        config.read_text(encoding="utf-8")
load_language_model(llm_folder, DeviceInfo.cpu("packaging test"))
print(json.dumps(sorted(opened)))
"""


@pytest.mark.slow
def test_files_opened_at_run_time_are_bundled(
    tiny_models, contents: ModuleType, bundled: set[str], tmp_path: Path
) -> None:
    """Run the loading paths under an audit hook; every data file and native library they open by
    path must be bundled. torch's and the CUDA wheels' libraries come from PyInstaller's hooks;
    packaging/check_bundle.py checks those in a finished build."""
    clip_folder = tiny_models("clip-tiny")
    diffusion_root = tiny_models("diffusion-tiny")
    llm_folder = tiny_models("llm-tiny")
    env = dict(os.environ, LATENT_STUDIO_HOME=str(tmp_path / "home"), HF_HUB_OFFLINE="1")
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(clip_folder), str(diffusion_root), str(llm_folder)],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    opened = [Path(p) for p in json.loads(result.stdout.strip().splitlines()[-1])]

    roots = [Path(p).resolve() for p in sys.path if p and Path(p).is_dir() and "site-packages" in p]
    roots += [REPO / "desktop", REPO]
    runtime_files, native_files = set(), set()
    for path in opened:
        metadata_file = re.search(r"\.(dist|egg)-info/", path.as_posix())  # see the metadata test
        if path.suffix in (".py", ".pyc") or metadata_file or not path.is_absolute() or not path.is_file():
            continue
        native = contents.is_native_library(path)
        resolved = path.resolve()
        if any(resolved.is_relative_to(p.resolve()) for p in (clip_folder, diffusion_root, llm_folder, tmp_path)):
            continue  # the user's models and data home, not part of the app
        for root in roots:
            if resolved.is_relative_to(root):
                (native_files if native else runtime_files).add(resolved.relative_to(root).as_posix())
                break
    assert "open_clip/bpe_simple_vocab_16e6.txt.gz" in runtime_files
    assert "resources/models.json" in runtime_files
    assert "resources/diffusion-configs/sdxl/model_index.json" in runtime_files
    missing = sorted(runtime_files - bundled)
    assert not missing, f"opened at run time but not bundled: {missing}"

    natives = {f"{Path(dest).as_posix()}/{Path(src).name}" for src, dest in contents.native_libraries()}
    assert any(name.startswith("torchvision/") for name in native_files)
    by_hooks = ("torch/", "nvidia/")
    missing = sorted(n for n in native_files - natives if not n.startswith(by_hooks))
    assert not missing, f"native libraries loaded by path but not bundled: {missing}"


def test_metadata_the_app_reads_is_bundled(contents: ModuleType) -> None:
    from latentstudio import cli

    listed = {normalise(n) for n in contents.METADATA_PACKAGES}
    needed = {normalise(n) for n in cli.PACKAGES}
    # Checked at import: transformers and diffusers refuse to start without these versions.
    from diffusers import dependency_versions_check as diffusers_check
    from transformers import dependency_versions_check as transformers_check

    for name in [*transformers_check.pkgs_to_check_at_runtime, *diffusers_check.pkgs_to_check_at_runtime]:
        if name == "python":
            continue
        try:
            metadata.version(name)
        except metadata.PackageNotFoundError:
            continue  # optional (e.g. accelerate): absent here, absent in the bundle
        needed.add(normalise(name))
    assert needed <= listed, f"metadata not bundled: {sorted(needed - listed)}"
    for name in contents.METADATA_PACKAGES:
        metadata.version(name)  # copy_metadata fails the build for a name that is not installed


def test_excludes_keep_tools_out_and_code_in(contents: ModuleType) -> None:
    excluded = set(contents.EXCLUDED_MODULES)
    assert {"tests", "pytest", "_pytest", "pytestqt", "pip", "PyInstaller"} <= excluded
    needed = {"torch", "PySide6.QtCore", "PySide6.QtGui", "PySide6.QtWidgets", *contents.HIDDEN_IMPORT_PACKAGES}
    assert not needed & excluded
    # Qt and torch modules the app imports must not be excluded.
    imported = set()
    for path in SOURCE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in ("PySide6", "torch"):
                imported.add(node.module)
            elif isinstance(node, ast.Import):
                imported.update(a.name for a in node.names if a.name.split(".")[0] in ("PySide6", "torch"))
    assert "PySide6.QtWidgets" in imported
    assert not imported & excluded, f"imported by the app but excluded: {sorted(imported & excluded)}"


def test_modules_loaded_by_name_are_hidden_imports(contents: ModuleType) -> None:
    """diffusers and transformers pick classes by the names in a model's config at run time."""
    hidden = set(contents.hidden_imports())
    for name in (
        "diffusers.pipelines.stable_diffusion.pipeline_stable_diffusion",
        "diffusers.pipelines.stable_diffusion_xl.pipeline_stable_diffusion_xl",
        "diffusers.schedulers.scheduling_dpmsolver_multistep",
        "diffusers.models.unets.unet_2d_condition",
        "transformers.models.clip.modeling_clip",
        "transformers.models.qwen2.modeling_qwen2",
        "transformers.models.llama.modeling_llama",
        "transformers.generation.utils",
        "open_clip.factory",
        "latentstudio.models.cli",
        "accelerate.hooks",
    ):
        assert name in hidden, name
    ours = {".".join(p.relative_to(SOURCE.parent).with_suffix("").parts) for p in SOURCE.rglob("*.py")}
    ours = {name.removesuffix(".__init__") for name in ours}
    assert ours <= hidden, sorted(ours - hidden)
    assert not any("flax" in name or "onnx" in name for name in hidden if not name.startswith("latentstudio."))
    assert not hidden & set(contents.EXCLUDED_MODULES)


def test_qt_platform_plugins_exist_for_the_build(contents: ModuleType) -> None:
    """build_linux.sh fails when these are missing; here: they exist where PyInstaller takes them from."""
    import PySide6

    qt = Path(PySide6.__file__).parent
    plugins = [p for p in contents.REQUIRED_IN_BUILD_LINUX if p.startswith("PySide6/")]
    assert any(p.endswith("libqoffscreen.so") for p in plugins)
    assert any(p.endswith("libqxcb.so") for p in plugins)
    if sys.platform.startswith("linux"):
        for plugin in plugins:
            assert (qt.parent / plugin).is_file(), plugin


def test_spec_uses_the_lists_and_bundles_macos_app(contents: ModuleType) -> None:
    spec = (PACKAGING / "latent_studio.spec").read_text(encoding="utf-8")
    tree = ast.parse(spec)
    calls = {n.func.id: n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    assert {"Analysis", "PYZ", "EXE", "COLLECT", "BUNDLE"} <= set(calls)
    analysis = {k.arg: ast.unparse(k.value) for k in calls["Analysis"].keywords}
    assert analysis["datas"] == "datas" and "EXCLUDED_MODULES" in analysis["excludes"]
    assert "contents.data_files()" in spec and "METADATA_PACKAGES" in spec
    assert (PACKAGING / "entry.py").is_file()

    info = plistlib.loads((PACKAGING / "macos" / "Info.plist").read_bytes())
    assert info["CFBundleExecutable"] == contents.DISPLAY_NAME
    assert info["CFBundleIdentifier"] == contents.BUNDLE_ID
    assert info["LSBackgroundOnly"] is False
    for icon in (contents.ICON_PNG, contents.ICON_ICO):
        assert icon.is_file(), icon


def test_installer_recipes_name_files_that_exist() -> None:
    iss = (PACKAGING / "windows" / "latent-studio.iss").read_text(encoding="utf-8")
    named = re.findall(r"\{#RepoDir\}\\([^\";\r\n]+)", iss)
    sources = [n for n in named if not n.startswith("build\\")]  # build outputs come later
    assert "resources\\icons\\latent-studio.ico" in sources
    for relative in sources:
        assert (REPO / relative.replace("\\", "/")).exists(), relative
    # User data goes only when the uninstall asked and the box was ticked, never silently.
    assert "Box.Checked := False" in iss and "UninstallSilent()" in iss
    assert "DelTree(UserDataDir()" in iss and "[UninstallDelete]" not in iss

    import yaml

    workflow = yaml.safe_load((REPO / ".github" / "workflows" / "installers.yml").read_text(encoding="utf-8"))
    jobs = workflow["jobs"]
    runners = {name: str(job["runs-on"]) for name, job in jobs.items()}
    assert any("ubuntu" in r for r in runners.values())
    assert any("windows" in r for r in runners.values())
    assert any("macos" in r for r in runners.values())
    for job in jobs.values():
        script = "\n".join(str(step.get("run", "")) for step in job["steps"])
        # Each platform runs the same checks: smoke_check.py (doctor --json, gui --quit-after-shown).
        assert "smoke_check.py" in script or "smoke_test.sh" in script
    for script in ("build_linux.sh", "smoke_test.sh"):
        assert os.access(PACKAGING / script, os.X_OK), script
    smoke = (PACKAGING / "smoke_test.sh").read_text(encoding="utf-8")
    assert "smoke_check.py" in smoke and "dpkg-deb -x" in smoke
    check = (PACKAGING / "smoke_check.py").read_text(encoding="utf-8")
    assert '"doctor", "--json"' in check and '"gui", "--quit-after-shown"' in check
