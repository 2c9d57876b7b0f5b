"""Check a finished one-folder build: `python packaging/check_bundle.py BUILD/_internal`.

Run with the build environment's Python. Imports the libraries the app loads at run time, as
the app does, recording every data file and native library they open (audit hooks `open` and
`ctypes.dlopen`); each one that lives in site-packages must exist at the same place inside the
bundle. Also checks the files bundle_contents.py requires and that the packages it excludes are
absent. Exit status 1 names what is wrong.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
import sysconfig
from pathlib import Path

opened: set[str] = set()


def record(event: str, args: tuple) -> None:
    if event in ("open", "ctypes.dlopen") and args and isinstance(args[0], str):
        opened.add(args[0])


def load_runtime_libraries() -> None:
    """What the app's jobs import on the inference thread (see models/, imagegen/, codegen/)."""
    import faiss  # noqa: F401  (the library's approximate index for large collections)
    import open_clip
    import torch  # noqa: F401  (preloads its CUDA libraries)
    import torchvision  # noqa: F401  (loads its operator library by path)
    from diffusers import StableDiffusionPipeline, StableDiffusionXLPipeline  # noqa: F401
    from transformers import AutoModelForCausalLM, CLIPTextModel, PreTrainedModel  # noqa: F401

    open_clip.list_models()
    open_clip.get_tokenizer("ViT-B-32")


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    internal = Path(argv[0])
    spec = importlib.util.spec_from_file_location("bundle_contents", Path(__file__).with_name("bundle_contents.py"))
    assert spec and spec.loader
    contents = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(contents)

    missing = []
    # Left out on purpose (tests, build tools, triton…): none of them may reach the bundle as files.
    unwanted = [name for name in contents.EXCLUDED_MODULES if "." not in name and (internal / name).exists()]
    if sys.platform.startswith("linux"):
        missing += [name for name in contents.REQUIRED_IN_BUILD_LINUX if not (internal / name).exists()]

    sys.addaudithook(record)
    load_runtime_libraries()
    site = Path(os.path.normpath(sysconfig.get_paths()["purelib"]))
    checked = 0
    for name in sorted(opened):
        # Not resolved: a library opened through a versioned symlink is bundled under that name.
        path = Path(os.path.normpath(name))
        if not path.is_absolute() or not path.is_file():
            continue
        if not path.is_relative_to(site) or path.suffix in (".py", ".pyc"):
            continue
        relative = path.relative_to(site).as_posix()
        if re.search(r"\.(dist|egg)-info/", relative):
            continue
        checked += 1
        if not (internal / relative).exists():
            missing.append(relative)

    for name in missing:
        print(f"check: missing from the bundle: {name}")
    for name in unwanted:
        print(f"check: excluded but in the bundle: {name}")
    print(f"check: {checked} run-time files of the libraries and "
          f"{len(contents.REQUIRED_IN_BUILD_LINUX)} required files looked up; {len(missing)} missing")
    return 1 if missing or unwanted else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
