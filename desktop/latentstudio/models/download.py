"""Download a catalogue model from the Hugging Face Hub into the registry.

Every file lands in a staging folder under `Paths.downloads/<id>/` as `<name>.<hash>.incomplete`
and grows there across interruptions and restarts (HTTP Range requests); once complete it is
checked against the hash the hub reports (SHA-256 for LFS files, the git blob id otherwise) and
renamed. When all files are verified the folder is handed to `ModelRegistry.install_staged`,
which moves it into place atomically. A cancel deletes the staging folder; a failure or an
interruption keeps it, so the next attempt resumes.

Talks to the hub through huggingface_hub (repo info API, its shared HTTP client with proxies from
the environment and the user's token, HF_ENDPOINT, its cache) but fetches each file with its own
Range-resuming GET and back-off, because huggingface_hub 2.4 deletes a partial file when a
download fails. Always the plain HTTP path: Xet storage is never used.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional
from urllib.parse import quote

from ..atomic_files import write_json
from ..engine.jobs import Cancelled
from ..units import format_bytes, format_duration
from .catalogue import CatalogueEntry, safe_relative_path
from .network import NetworkDisabledError, check_network_allowed, disable_hub_telemetry
from .registry import InstalledModel, ModelRegistry

if TYPE_CHECKING:
    from ..context import AppContext

log = logging.getLogger(__name__)

FILES_DIR = "files"
VERIFIED_FILE = "verified.json"
DISK_MARGIN_BYTES = 64 * 2**20  # room for configs, logs and the filesystem's own needs
HASH_CHUNK = 4 * 2**20
NOT_RETRYABLE_STATUS = (401, 403, 404)


class DownloadError(RuntimeError):
    """A download that could not finish; the message says why and what to do."""


class InsufficientDiskSpaceError(DownloadError):
    def __init__(self, what: str, needed: int, free: int, where: Path):
        self.needed, self.free, self.where = needed, free, where
        super().__init__(
            f"Not enough disk space to download {what}: it needs {format_bytes(needed)} and "
            f"{where} has {format_bytes(free)} free. Free up {format_bytes(needed - free)} and try again."
        )


class ChecksumMismatchError(DownloadError):
    pass


class DownloadCancelled(Cancelled):
    """Raised inside a download when it is stopped. `discard` says whether its files go too."""

    def __init__(self, message: str, discard: bool = True):
        super().__init__(message)
        self.discard = discard


@dataclass(frozen=True)
class RemoteFile:
    path: str  # in the repository
    save_as: str  # in the model folder
    size: int
    sha256: Optional[str]  # LFS files: the hub's SHA-256 of the content
    blob_id: Optional[str]  # other files: the git blob id (SHA-1 of "blob <size>\0" + content)
    pinned_sha256: Optional[str] = None  # from the catalogue, when it pins one

    @property
    def expected_hash(self) -> str:
        return self.sha256 or self.blob_id or ""


@dataclass(frozen=True)
class DownloadPlan:
    entry: CatalogueEntry
    commit: str
    files: tuple[RemoteFile, ...]
    endpoint: str

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def source(self) -> str:
        return f"{self.endpoint}/{self.entry.repo}@{self.commit}"

    def file_url(self, remote: RemoteFile) -> str:
        """The hub's resolve URL, pinned to the planned commit (as `hf_hub_url` builds it)."""
        return f"{self.endpoint}/{self.entry.repo}/resolve/{quote(self.commit, safe='')}/{quote(remote.path)}"


@dataclass(frozen=True)
class DownloadProgress:
    entry_id: str
    phase: str  # "connecting" | "downloading" | "retrying" | "verifying" | "installing"
    done_bytes: int = 0
    total_bytes: int = 0
    bytes_per_s: Optional[float] = None
    file: str = ""
    note: str = ""

    @property
    def eta_s(self) -> Optional[float]:
        if not self.bytes_per_s or not self.total_bytes:
            return None
        return max(0.0, (self.total_bytes - self.done_bytes) / self.bytes_per_s)

    @property
    def fraction(self) -> Optional[float]:
        return min(1.0, self.done_bytes / self.total_bytes) if self.total_bytes else None

    def describe(self) -> str:
        if self.phase in ("connecting", "installing") or (self.phase == "retrying" and self.note):
            return self.note or self.phase.capitalize() + "…"
        text = f"{format_bytes(self.done_bytes)} of {format_bytes(self.total_bytes)}"
        if self.phase == "verifying":
            return f"Verifying {self.file} ({text})"
        if self.bytes_per_s:
            text += f" · {format_bytes(self.bytes_per_s)}/s"
        if self.eta_s is not None and self.bytes_per_s:
            text += f" · {format_duration(self.eta_s)} left"
        return text


ProgressCallback = Callable[[DownloadProgress], None]


@dataclass(frozen=True)
class RetryPolicy:
    """Consecutive failures without new bytes allowed per file, and the back-off between them."""

    attempts: int = 6
    base_delay_s: float = 2.0
    max_delay_s: float = 60.0

    def delay(self, failure: int) -> float:
        return min(self.max_delay_s, self.base_delay_s * 2 ** (failure - 1))


@dataclass
class StopFlags:
    """`cancel`: stop and delete the partial files. `interrupt`: stop and keep them to resume."""

    cancel: threading.Event = field(default_factory=threading.Event)
    interrupt: threading.Event = field(default_factory=threading.Event)

    def check(self) -> None:
        if self.cancel.is_set():
            raise DownloadCancelled("download cancelled", discard=True)
        if self.interrupt.is_set():
            raise DownloadCancelled("download interrupted; it resumes next time", discard=False)

    def wait(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.check()
            self.cancel.wait(min(0.1, max(0.0, deadline - time.monotonic())))
        self.check()


class _Meter:
    """Bytes done across the whole download, speed over the last few seconds, throttled reports."""

    def __init__(self, entry_id: str, total: int, done: int, report: Optional[ProgressCallback], flags: StopFlags):
        self.entry_id, self.total, self.done = entry_id, total, done
        self.report, self.flags = report, flags
        self.samples: deque[tuple[float, int]] = deque()
        self.last_report = 0.0
        self.file = ""

    def speed(self) -> Optional[float]:
        now = time.monotonic()
        self.samples.append((now, self.done))
        while len(self.samples) > 2 and now - self.samples[0][0] > 5.0:
            self.samples.popleft()
        elapsed = now - self.samples[0][0]
        if elapsed < 0.2:
            return None
        return (self.done - self.samples[0][1]) / elapsed

    def add(self, count: int) -> None:
        self.flags.check()
        self.done += count
        now = time.monotonic()
        if now - self.last_report >= 0.2:
            self.last_report = now
            self.emit("downloading")

    def emit(self, phase: str, note: str = "") -> None:
        if self.report is not None:
            self.report(
                DownloadProgress(self.entry_id, phase, self.done, self.total, self.speed(), self.file, note)
            )


def hub_endpoint(endpoint: Optional[str] = None) -> str:
    """HF_ENDPOINT as set now (huggingface_hub reads it once, at import)."""
    from huggingface_hub import constants

    return (endpoint or os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")


def fetch_plan(entry: CatalogueEntry, endpoint: Optional[str] = None) -> DownloadPlan:
    """Ask the hub (repo info with file metadata: one request) for the commit, sizes and hashes."""
    import httpx2
    from huggingface_hub import HfApi
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        RepositoryNotFoundError,
    )

    disable_hub_telemetry()
    base = hub_endpoint(endpoint)
    api = HfApi(endpoint=base, library_name="latent-studio")
    try:
        info = api.model_info(entry.repo, revision=entry.revision, files_metadata=True, timeout=30)
    except GatedRepoError as exc:
        raise DownloadError(
            f"{entry.repo} is gated: accept its licence on the hub and log in (`hf auth login`), then retry"
        ) from exc
    except RepositoryNotFoundError as exc:
        raise DownloadError(f"{entry.repo} was not found on {base}") from exc
    except HfHubHTTPError as exc:
        raise DownloadError(f"the hub at {base} answered with an error: {exc}") from exc
    except NetworkDisabledError:
        raise
    except (httpx2.HTTPError, OSError, ValueError) as exc:
        raise DownloadError(f"cannot reach {base}: {exc}") from exc
    siblings = {s.rfilename: s for s in info.siblings or []}
    if not info.sha:
        raise DownloadError(f"{base} did not report a commit for {entry.repo}")
    files = []
    for item in entry.files:
        sibling = siblings.get(item.path)
        if (sibling is None or sibling.size is None) and item.optional:
            continue
        if sibling is None or sibling.size is None:
            raise DownloadError(f"{entry.repo} has no file {item.path} (at {info.sha[:10]})")
        files.append(
            RemoteFile(
                path=item.path,
                save_as=safe_relative_path(item.save_as),
                size=int(sibling.lfs.size if sibling.lfs else sibling.size),
                sha256=sibling.lfs.sha256.lower() if sibling.lfs else None,
                blob_id=sibling.blob_id,
                pinned_sha256=item.sha256,
            )
        )
    return DownloadPlan(entry, info.sha, tuple(files), base)


def disk_free_bytes(path: Path) -> int:
    return shutil.disk_usage(path).free


def _hash_file(path: Path, remote: RemoteFile, flags: StopFlags) -> tuple[str, Optional[str]]:
    """(sha256, git blob id) of a file, reading it in chunks so a cancel is honoured."""
    sha256 = hashlib.sha256()
    git = hashlib.sha1(f"blob {path.stat().st_size}\0".encode()) if remote.sha256 is None else None
    with path.open("rb") as fh:
        while chunk := fh.read(HASH_CHUNK):
            flags.check()
            sha256.update(chunk)
            if git is not None:
                git.update(chunk)
    return sha256.hexdigest(), git.hexdigest() if git is not None else None


def verify_file(path: Path, remote: RemoteFile, flags: StopFlags) -> None:
    size = path.stat().st_size
    if size != remote.size:
        raise ChecksumMismatchError(f"{remote.path}: {size:,} bytes received, the hub lists {remote.size:,}")
    sha256, blob_id = _hash_file(path, remote, flags)
    expected = remote.sha256 or remote.blob_id
    actual = sha256 if remote.sha256 else blob_id
    if not expected or actual != expected.lower():
        raise ChecksumMismatchError(
            f"{remote.path}: checksum mismatch (got {actual}, the hub reports {expected}); "
            "the file was deleted and will be fetched again"
        )
    if remote.pinned_sha256 and sha256 != remote.pinned_sha256.lower():
        raise ChecksumMismatchError(
            f"{remote.path}: SHA-256 {sha256} differs from the catalogue's {remote.pinned_sha256}"
        )


class _StagingState:
    """Which files of a staging folder are complete and verified (so a resume skips them)."""

    def __init__(self, folder: Path, commit: str):
        self.path = folder / VERIFIED_FILE
        self.commit = commit
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            self.verified: dict[str, str] = dict(data.get("files", {})) if data.get("commit") == commit else {}
        except (OSError, ValueError, AttributeError):
            self.verified = {}

    def is_done(self, remote: RemoteFile, target: Path) -> bool:
        return (
            self.verified.get(remote.save_as) == remote.expected_hash
            and target.is_file()
            and target.stat().st_size == remote.size
        )

    def mark(self, remote: RemoteFile) -> None:
        self.verified[remote.save_as] = remote.expected_hash
        write_json(self.path, {"commit": self.commit, "files": self.verified})


def partial_path(target: Path, remote: RemoteFile) -> Path:
    return target.with_name(f"{target.name}.{remote.expected_hash[:16]}.incomplete")


def _stream_once(url: str, headers: dict[str, str], partial: Path, have: int, meter: _Meter) -> None:
    """One GET of the rest of the file (Range from `have`), appended to `partial` as it arrives."""
    import httpx2
    from huggingface_hub import constants
    from huggingface_hub.utils import get_session, hf_raise_for_status

    request_headers = {**headers, "Accept-Encoding": "identity"}
    if have:
        request_headers["Range"] = f"bytes={have}-"
    timeout = httpx2.Timeout(constants.HF_HUB_DOWNLOAD_TIMEOUT, connect=constants.HF_HUB_ETAG_TIMEOUT)
    # The hub's shared client: HF_ENDPOINT redirects, proxies from the environment, offline hook.
    with get_session().stream("GET", url, headers=request_headers, timeout=timeout) as response:
        hf_raise_for_status(response)
        with partial.open("ab") as fh:
            if have and response.status_code != 206:  # the server ignored the Range: start over
                fh.truncate(0)
                meter.done -= have
            for chunk in response.iter_bytes():  # as received: a drop loses nothing
                fh.write(chunk)
                meter.add(len(chunk))


def _fetch_file(
    plan: DownloadPlan,
    remote: RemoteFile,
    partial: Path,
    meter: _Meter,
    flags: StopFlags,
    retry: RetryPolicy,
) -> None:
    """Grow `partial` until it holds the whole file, resuming after each failure with back-off."""
    import httpx2
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled
    from huggingface_hub.utils import build_hf_headers

    url = plan.file_url(remote)
    headers = build_hf_headers(library_name="latent-studio")
    failures = 0
    while True:
        flags.check()
        have = partial.stat().st_size if partial.exists() else 0
        if have > remote.size:  # not ours or corrupt: start this file over
            partial.unlink()
            meter.done -= have
            have = 0
        if have == remote.size:
            return
        others = meter.done - have
        try:
            _stream_once(url, headers, partial, have, meter)
            received = partial.stat().st_size
            if received == remote.size:
                return
            error: Exception = DownloadError(f"received {received:,} bytes, the hub lists {remote.size:,}")
        except OfflineModeIsEnabled as exc:
            raise NetworkDisabledError(str(exc)) from exc
        except HfHubHTTPError as exc:
            status = exc.response.status_code if exc.response is not None else None
            if status in NOT_RETRYABLE_STATUS:
                raise DownloadError(f"{remote.path}: the hub refused it (HTTP {status}): {exc}") from exc
            error = exc
        except (httpx2.HTTPError, OSError) as exc:
            error = exc
        now = partial.stat().st_size if partial.exists() else 0
        meter.done = others + now
        failures = 1 if have < now <= remote.size else failures + 1
        if failures >= retry.attempts:
            raise DownloadError(
                f"{remote.path}: the download kept failing ({error}); "
                f"{format_bytes(now)} of {format_bytes(remote.size)} kept, run it again to resume"
            ) from error
        delay = retry.delay(failures)
        log.warning("download of %s failed (%s); retrying in %.1f s", remote.path, error, delay)
        meter.emit("retrying", f"Connection problem ({type(error).__name__}); retrying in {delay:.0f} s")
        flags.wait(delay)


def _copy_from_hub_cache(plan: DownloadPlan, remote: RemoteFile, partial: Path, cache_dir: Optional[Path]) -> bool:
    """Reuse a file huggingface_hub already has in its cache (same repo and commit)."""
    from huggingface_hub import try_to_load_from_cache

    cached = try_to_load_from_cache(
        plan.entry.repo, remote.path, cache_dir=cache_dir, revision=plan.commit
    )
    if not isinstance(cached, str) or os.path.getsize(cached) != remote.size:
        return False
    shutil.copyfile(cached, partial)
    return True


def download_model(
    entry: CatalogueEntry,
    registry: ModelRegistry,
    staging_root: Path,
    *,
    offline: bool,
    on_progress: Optional[ProgressCallback] = None,
    flags: Optional[StopFlags] = None,
    endpoint: Optional[str] = None,
    retry: RetryPolicy = RetryPolicy(),
    hub_cache: Optional[Path] = None,
    disk_free: Callable[[Path], int] = disk_free_bytes,
) -> InstalledModel:
    """Fetch, verify and install `entry`. Raises DownloadError (with the reason),
    NetworkDisabledError when offline, DownloadCancelled when stopped."""
    check_network_allowed(offline)
    flags = flags or StopFlags()
    if any(m.id == entry.id for m in registry.list()):
        raise FileExistsError(f"{entry.name} is already installed (as {entry.id})")
    report = on_progress or (lambda progress: None)
    report(DownloadProgress(entry.id, "connecting", note=f"Asking the hub about {entry.repo}…"))
    plan = fetch_plan(entry, endpoint)
    staging = staging_root / entry.id
    files_dir = staging / FILES_DIR
    files_dir.mkdir(parents=True, exist_ok=True)
    try:
        _download_plan(plan, registry, files_dir, staging, report, flags, retry, hub_cache, disk_free)
        flags.check()
        report(DownloadProgress(entry.id, "installing", plan.total_bytes, plan.total_bytes,
                                note=f"Installing {entry.name}…"))
        model = registry.install_staged(
            files_dir,
            entry.id,
            source=plan.source,
            extra={
                "catalogue_id": entry.id,
                "repo": entry.repo,
                "commit": plan.commit,
                "licence": entry.licence,
                "name": entry.name,
            },
            architecture=entry.architecture,
            kind=entry.kind,
        )
    except DownloadCancelled as exc:
        if exc.discard:
            shutil.rmtree(staging, ignore_errors=True)
        raise
    except DownloadError:
        if staged_bytes(staging_root, entry.id) == 0:  # nothing worth resuming
            shutil.rmtree(staging, ignore_errors=True)
        raise
    shutil.rmtree(staging, ignore_errors=True)
    log.info("downloaded %s from %s", entry.id, plan.source)
    return model


def _download_plan(
    plan: DownloadPlan,
    registry: ModelRegistry,
    files_dir: Path,
    staging: Path,
    report: ProgressCallback,
    flags: StopFlags,
    retry: RetryPolicy,
    hub_cache: Optional[Path],
    disk_free: Callable[[Path], int],
) -> None:
    state = _StagingState(staging, plan.commit)
    targets = [(remote, files_dir / remote.save_as) for remote in plan.files]
    have = 0
    for remote, target in targets:
        if state.is_done(remote, target):
            have += remote.size
        elif partial_path(target, remote).is_file():
            have += min(remote.size, partial_path(target, remote).stat().st_size)
    _check_space(plan, registry, staging, plan.total_bytes - have, disk_free)
    meter = _Meter(plan.entry.id, plan.total_bytes, have, report, flags)
    for remote, target in targets:
        if state.is_done(remote, target):
            continue
        meter.file = remote.path
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = partial_path(target, remote)
        for attempt in (1, 2):  # a corrupt transfer is fetched once more before giving up
            if attempt == 1 and not partial.exists() and _copy_from_hub_cache(plan, remote, partial, hub_cache):
                meter.done += remote.size
            else:
                _fetch_file(plan, remote, partial, meter, flags, retry)
            meter.emit("verifying")
            try:
                verify_file(partial, remote, flags)
                break
            except ChecksumMismatchError:
                partial.unlink(missing_ok=True)
                meter.done -= remote.size
                if attempt == 2:
                    raise
                log.warning("%s failed verification; fetching it again", remote.path)
        os.replace(partial, target)
        state.mark(remote)
    # Leftovers of an older revision's attempt must not be installed with the model.
    wanted = {target for _, target in targets}
    for path in [p for p in files_dir.rglob("*") if p.is_file() and p not in wanted]:
        path.unlink()


def _check_space(
    plan: DownloadPlan,
    registry: ModelRegistry,
    staging: Path,
    remaining: int,
    disk_free: Callable[[Path], int],
) -> None:
    needed = remaining + DISK_MARGIN_BYTES
    registry.root.mkdir(parents=True, exist_ok=True)
    if os.stat(staging).st_dev != os.stat(registry.root).st_dev:
        needed += plan.total_bytes  # installing copies across filesystems instead of renaming
    free = disk_free(staging)
    if free < needed:
        raise InsufficientDiskSpaceError(plan.entry.name, needed, free, staging)


def staged_bytes(staging_root: Path, entry_id: str) -> int:
    """Bytes already downloaded for `entry_id` by an unfinished download."""
    folder = staging_root / entry_id / FILES_DIR
    if not folder.is_dir():
        return 0
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def download_for_app(
    ctx: "AppContext",
    entry: CatalogueEntry,
    on_progress: Optional[ProgressCallback] = None,
    flags: Optional[StopFlags] = None,
    retry: RetryPolicy = RetryPolicy(),
) -> InstalledModel:
    """`download_model` with the app's registry, staging folder and offline setting."""
    return download_model(
        entry,
        ctx.registry,
        ctx.paths.downloads,
        offline=ctx.settings.offline_mode,
        on_progress=on_progress,
        flags=flags,
        retry=retry,
    )
