"""Cluster support: is the optional extra installed, connecting to Ray, and path maps.

Nothing here imports Ray at module level: the desktop app and its installers run without
the `cluster` extra, and `doctor` asks about it without paying for the import.
"""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path, PurePosixPath
from typing import Iterator, Optional, Sequence

log = logging.getLogger(__name__)

CLUSTER_PACKAGES = ("ray", "pyarrow", "pandas")  # pandas: Ray Data needs it for its blocks
INSTALL_HINT = "pip install 'latent-studio[cluster]'"
LOCAL = "local"


class ClusterError(ValueError):
    """A cluster run that cannot start (missing extra, bad address or path map); str(error) says
    what to change, and the command line shows it as a user error."""


def cluster_support() -> dict:
    """Which cluster packages are installed (versions), without importing them."""
    versions: dict[str, Optional[str]] = {}
    for name in CLUSTER_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    installed = all(versions.values())
    return {"installed": installed, "versions": versions, "hint": None if installed else INSTALL_HINT}


def require_cluster_support() -> None:
    support = cluster_support()
    if not support["installed"]:
        missing = ", ".join(n for n, v in support["versions"].items() if v is None)
        raise ClusterError(f"cluster support is not installed (missing {missing}): {INSTALL_HINT}")


@dataclass(frozen=True)
class PathMap:
    """`LOCAL=REMOTE`: a folder as this machine sees it, and as the workers see it."""

    local: Path
    remote: str

    @classmethod
    def parse(cls, text: str) -> "PathMap":
        local, sep, remote = text.partition("=")
        if not sep or not local or not remote:
            raise ValueError(f"--path-map wants LOCAL=REMOTE, e.g. /mnt/nas=/data/nas; got {text!r}")
        return cls(Path(os.path.abspath(Path(local).expanduser())), remote.rstrip("/\\") or "/")

    def apply(self, path: str) -> Optional[str]:
        """The workers' path for a local one, or None when it is outside this map."""
        local = Path(path)
        if not local.is_relative_to(self.local):
            return None
        rest = local.relative_to(self.local).parts
        return str(PurePosixPath(self.remote, *rest)) if self.remote.startswith("/") else str(Path(self.remote, *rest))


def map_path(path: str, maps: Sequence[PathMap]) -> Optional[str]:
    """The first map that covers `path` decides; None when none does."""
    for path_map in maps:
        mapped = path_map.apply(path)
        if mapped is not None:
            return mapped
    return None


def _package_dir() -> str:
    return str(Path(__file__).resolve().parents[1])


@contextlib.contextmanager
def ray_session(address: str, num_cpus: Optional[int] = None) -> Iterator[dict]:
    """Connect to a Ray cluster (or start a local runtime for `local`) for the length of a run.

    A runtime already started in this process (the tests', an embedding app's) is used as it is
    and left running; one started here is shut down afterwards, which also ends every task and
    actor of the run (that is how Ctrl-C cancels the cluster job).
    """
    require_cluster_support()
    import ray

    if ray.is_initialized():
        yield {"address": address, "started": False}
        return
    # Ray's own warnings (thread, token, progress-bar notices) would bury this command's output;
    # real failures still arrive as exceptions.
    options: dict = {"include_dashboard": False, "logging_level": logging.ERROR, "log_to_driver": False}
    if address == LOCAL:
        options["num_cpus"] = num_cpus or os.cpu_count() or 1
    else:
        # Workers run this client's own code, so both ends agree on the batch layout; they need
        # the app's dependencies (torch, open_clip, Pillow) installed.
        options["address"] = address
        options["runtime_env"] = {"py_modules": [_package_dir()]}
    try:
        ray.init(**options)
    except (ConnectionError, ValueError, RuntimeError) as exc:
        raise ClusterError(f"cannot connect to the Ray cluster at {address}: {exc}") from exc
    try:
        yield {"address": address, "started": True}
    except BaseException:
        # Cancelled or interrupted: Ray Data's threads may still be winding down, and a Ray
        # shut down under them ends the whole process (exit 1). A runtime of our own must stop;
        # a connection to someone's cluster is closed by Ray itself when this process exits.
        if address == LOCAL:
            ray.shutdown()
        raise
    else:
        ray.shutdown()
