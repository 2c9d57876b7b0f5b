"""Downloads through the real huggingface_hub client from a local fake hub: install, resume,
checksums, free-disk check, cancel, offline mode, the download queue and the CLI."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Iterator

import pytest

from latentstudio.context import AppContext
from latentstudio.engine import JobState
from latentstudio.engine.jobs import EventKind
from latentstudio.models.catalogue import CatalogueEntry, CatalogueFile
from latentstudio.models.download import (
    ChecksumMismatchError,
    DownloadCancelled,
    DownloadError,
    InsufficientDiskSpaceError,
    RetryPolicy,
    StopFlags,
    download_for_app,
    download_model,
)
from latentstudio.models.download_queue import DownloadQueue
from latentstudio.models.network import NetworkDisabledError
from tests.support.fake_hub import FakeHub, point_client_at

REPO = "test-org/tiny-coder"
WEIGHTS = "model.safetensors"
FAST_RETRY = RetryPolicy(attempts=2, base_delay_s=0.01, max_delay_s=0.05)


@pytest.fixture
def tiny_lm(tiny_models) -> Path:
    """The code-generation tests' tiny Qwen2 (transformers folder), served as a hub repository."""
    return tiny_models("llm-tiny")


def make_entry(folder: Path, entry_id: str = "tiny-coder") -> CatalogueEntry:
    files = tuple(CatalogueFile(p.name, p.stat().st_size, p.name) for p in sorted(folder.iterdir()))
    return CatalogueEntry(
        id=entry_id, kind="llm", name="Tiny coder", repo=REPO, revision="main",
        licence="Apache-2.0", licence_url="", good_for="tests", min_memory_gb=0,
        default_for=("cpu",), files=files,
    )


@pytest.fixture
def hub(tiny_lm: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeHub]:
    server = FakeHub()
    server.add_folder(REPO, tiny_lm)
    with server:
        point_client_at(server, monkeypatch, tmp_path / "hf-cache")
        yield server


@pytest.fixture
def entry(tiny_lm: Path) -> CatalogueEntry:
    return make_entry(tiny_lm)


def staging_leftovers(ctx: AppContext) -> list[Path]:
    return sorted(ctx.paths.downloads.rglob("*")) if ctx.paths.downloads.exists() else []


def test_complete_download_installs_a_loadable_model(ctx: AppContext, hub: FakeHub, entry, tiny_lm: Path):
    events = []
    model = download_for_app(ctx, entry, on_progress=events.append)

    assert ctx.registry.resolve("llm").id == "tiny-coder"
    assert model.format == "transformers" and model.extra["repo"] == REPO
    assert model.extra["licence"] == "Apache-2.0"
    for file in tiny_lm.iterdir():
        assert (model.path / file.name).read_bytes() == file.read_bytes()
    assert staging_leftovers(ctx) == []
    assert hub.bytes_served[WEIGHTS] == (tiny_lm / WEIGHTS).stat().st_size
    phases = {e.phase for e in events}
    assert {"connecting", "downloading", "verifying", "installing"} <= phases
    assert events[-1].total_bytes == sum(f.stat().st_size for f in tiny_lm.iterdir())

    from transformers import AutoModelForCausalLM, AutoTokenizer

    import torch

    tokenizer = AutoTokenizer.from_pretrained(model.path, local_files_only=True)
    lm = AutoModelForCausalLM.from_pretrained(model.path, local_files_only=True, dtype=torch.float32)
    ids = tokenizer("def add", return_tensors="pt").input_ids
    with torch.no_grad():
        assert lm(ids).logits.shape == (1, ids.shape[1], lm.config.vocab_size)


def test_dropped_connection_resumes_where_it_stopped(ctx: AppContext, hub: FakeHub, entry, tiny_lm: Path):
    size = (tiny_lm / WEIGHTS).stat().st_size
    hub.faults.drop_after[WEIGHTS] = size // 2

    download_for_app(ctx, entry, retry=FAST_RETRY)

    ranges = [r for _, _, r in hub.gets(WEIGHTS) if r]
    assert ranges and all(r == f"bytes={size // 2}-" for r in ranges)
    assert hub.bytes_served[WEIGHTS] == size  # nothing fetched twice
    assert ctx.registry.get("tiny-coder")


def test_download_resumes_after_a_failed_run(ctx: AppContext, hub: FakeHub, entry, tiny_lm: Path):
    size = (tiny_lm / WEIGHTS).stat().st_size
    hub.faults.drop_after[WEIGHTS] = 100_000
    hub.faults.errors_after_drop[WEIGHTS] = 10  # the hub stays down: this run gives up

    with pytest.raises(DownloadError, match="kept failing"):
        download_model(entry, ctx.registry, ctx.paths.downloads, offline=False, retry=FAST_RETRY)
    assert ctx.registry.list() == []
    partials = [p for p in staging_leftovers(ctx) if p.name.endswith(".incomplete")]
    assert len(partials) == 1 and partials[0].stat().st_size == 100_000

    hub.faults.errors_after_drop.clear()  # "after a restart", the hub is back
    hub.requests.clear()
    stray = partials[0].with_name("model.safetensors.0123456789abcdef.incomplete")
    stray.write_bytes(b"from an older revision")
    model = download_model(entry, ctx.registry, ctx.paths.downloads, offline=False)

    assert model.id == "tiny-coder"
    assert hub.bytes_served[WEIGHTS] == size
    assert [r for _, _, r in hub.requests if r] == ["bytes=100000-"] * 2  # resolve + CDN hop
    assert [p for _, p, _ in hub.requests if p.endswith(("/config.json", "/generation_config.json"))] == []
    assert staging_leftovers(ctx) == []
    assert sorted(p.name for p in model.path.iterdir()) == sorted(p.name for p in tiny_lm.iterdir())


def test_stalled_connection_times_out_and_resumes(ctx: AppContext, hub: FakeHub, entry, tiny_lm, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_DOWNLOAD_TIMEOUT", 0.5)
    size = (tiny_lm / WEIGHTS).stat().st_size
    hub.faults.stall_after[WEIGHTS] = (150_000, 3.0)
    retries = []

    download_model(entry, ctx.registry, ctx.paths.downloads, offline=False, retry=FAST_RETRY,
                   on_progress=lambda p: p.phase == "retrying" and retries.append(p.note))

    assert retries and "ReadTimeout" in retries[0]
    assert [r for _, _, r in hub.requests if r] == ["bytes=150000-"] * 2
    assert hub.bytes_served[WEIGHTS] == size


def test_files_already_in_the_hub_cache_are_not_fetched_again(ctx: AppContext, hub: FakeHub, entry, tiny_lm, tmp_path):
    from tests.support.fake_hub import COMMIT

    snapshot = tmp_path / "hf-cache" / "models--test-org--tiny-coder" / "snapshots" / COMMIT
    snapshot.mkdir(parents=True)
    (snapshot / WEIGHTS).write_bytes((tiny_lm / WEIGHTS).read_bytes())

    model = download_for_app(ctx, entry)

    assert hub.gets(WEIGHTS) == [] and WEIGHTS not in hub.bytes_served
    assert (model.path / WEIGHTS).read_bytes() == (tiny_lm / WEIGHTS).read_bytes()


def test_checksum_mismatch_is_rejected_and_nothing_installed(ctx: AppContext, hub: FakeHub, entry, tiny_lm):
    hub.faults.corrupt.add(WEIGHTS)

    with pytest.raises(ChecksumMismatchError, match="checksum mismatch"):
        download_for_app(ctx, entry)

    assert ctx.registry.list() == []
    assert not (ctx.paths.models / "llm").exists() or not any((ctx.paths.models / "llm").iterdir())
    assert not any(p.name.startswith(WEIGHTS) for p in staging_leftovers(ctx))
    assert hub.bytes_served[WEIGHTS] == 2 * (tiny_lm / WEIGHTS).stat().st_size, hub.requests  # fetched once more, then refused


def test_free_disk_check_refuses_with_the_numbers(ctx: AppContext, hub: FakeHub, entry):
    with pytest.raises(InsufficientDiskSpaceError) as caught:
        download_model(entry, ctx.registry, ctx.paths.downloads, offline=False, disk_free=lambda path: 5_000_000)

    message = str(caught.value)
    assert "5.0 MB free" in message and "needs" in message and "Free up" in message
    assert caught.value.needed > caught.value.free == 5_000_000
    assert not [r for r in hub.requests if "/resolve/" in r[1]]
    assert ctx.registry.list() == [] and staging_leftovers(ctx) == []


def test_cancel_leaves_no_trace(ctx: AppContext, hub: FakeHub, entry):
    flags = StopFlags()

    def on_progress(progress):
        if progress.phase == "downloading":
            flags.cancel.set()

    with pytest.raises(DownloadCancelled):
        download_for_app(ctx, entry, on_progress=on_progress, flags=flags)

    assert ctx.registry.list() == []
    assert staging_leftovers(ctx) == []
    assert not (ctx.paths.models / "llm").exists() or not any((ctx.paths.models / "llm").iterdir())


def test_offline_mode_makes_no_connection(ctx: AppContext, hub: FakeHub, entry, monkeypatch):
    from huggingface_hub import constants

    def refuse(self, address):
        raise AssertionError(f"a connection to {address} was attempted in offline mode")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    ctx.settings.update(offline_mode=True)

    with pytest.raises(NetworkDisabledError, match="Offline mode is on"):
        download_for_app(ctx, entry)

    assert hub.requests == []
    assert constants.HF_HUB_OFFLINE is True  # the whole process is offline now
    assert ctx.registry.list() == []


def test_environment_offline_is_respected(ctx: AppContext, hub: FakeHub, entry, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(NetworkDisabledError, match="HF_HUB_OFFLINE"):
        download_for_app(ctx, entry)
    assert hub.requests == []


def test_unreachable_hub_is_reported(ctx: AppContext, hub: FakeHub, entry, monkeypatch):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    monkeypatch.setenv("HF_ENDPOINT", closed)
    with pytest.raises(DownloadError, match=f"cannot reach {closed}"):
        download_for_app(ctx, entry)
    assert staging_leftovers(ctx) == []


def test_missing_repository_file_is_reported(ctx: AppContext, hub: FakeHub, tiny_lm):
    entry = make_entry(tiny_lm)
    broken = CatalogueEntry(**{**entry.__dict__, "files": entry.files + (CatalogueFile("nope.bin", 1, "nope.bin"),)})
    with pytest.raises(DownloadError, match="has no file nope.bin"):
        download_for_app(ctx, broken)


def test_an_optional_file_the_repository_lacks_is_skipped(ctx: AppContext, hub: FakeHub, tiny_lm):
    entry = make_entry(tiny_lm)
    extra = CatalogueFile("special_tokens_map.json", 1, "special_tokens_map.json", optional=True)
    installed = download_for_app(ctx, CatalogueEntry(**{**entry.__dict__, "files": entry.files + (extra,)}))
    assert not (installed.path / "special_tokens_map.json").exists()
    assert {p.name for p in installed.path.iterdir()} >= {f.save_as for f in entry.files}


def test_queue_runs_downloads_as_jobs_and_cancels(ctx: AppContext, hub: FakeHub, entry, tiny_lm):
    queue = DownloadQueue(lambda e, report, flags: download_for_app(ctx, e, report, flags, FAST_RETRY))
    events = []
    queue.add_listener(events.append)
    hub.faults.drop_after[WEIGHTS] = 1000  # the first job pauses for a retry, so the second waits
    first = queue.submit(entry)
    second = queue.submit(make_entry(tiny_lm, "tiny-coder-2"))
    assert queue.submit(entry) is first  # asking twice gives the same job
    second.cancel()

    model = first.result(timeout=60)

    assert model.id == "tiny-coder" and first.state is JobState.FINISHED
    assert second.state is JobState.CANCELLED
    assert first.id != second.id and first.progress is not None and first.progress.total
    kinds = [e.kind for e in events if e.handle is first]
    assert kinds[0] is EventKind.QUEUED and kinds[-1] is EventKind.FINISHED
    assert EventKind.PROGRESS in kinds
    assert [m.id for m in ctx.registry.list()] == ["tiny-coder"]
    queue.shutdown()


def write_catalogue(folder: Path, entry: CatalogueEntry) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    data = {"version": 1, "models": [{
        "id": entry.id, "kind": entry.kind, "name": entry.name, "repo": entry.repo,
        "licence": entry.licence, "files": [{"path": f.path, "size": f.size} for f in entry.files],
        "default_for": ["cpu", "gpu"],
    }]}
    (folder / "models.json").write_text(json.dumps(data))
    return folder


def test_cli_download_and_available(hub: FakeHub, entry, tmp_path: Path, monkeypatch, capsys):
    from latentstudio.cli import main

    monkeypatch.setenv("LATENT_STUDIO_RESOURCES", str(write_catalogue(tmp_path / "resources", entry)))

    assert main(["models", "download", "tiny-coder"]) == 0
    out = capsys.readouterr()
    assert "Licence: Apache-2.0" in out.out and "Installed llm model tiny-coder" in out.out

    assert main(["models", "available", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["id"] == "tiny-coder" and rows[0]["installed"] is True
    assert {"id", "kind", "repo", "size_bytes", "licence", "installed"} <= set(rows[0])


def test_cli_download_failure_exits_non_zero_with_the_reason(hub: FakeHub, entry, tmp_path, monkeypatch, capsys):
    from latentstudio.cli import main

    monkeypatch.setenv("LATENT_STUDIO_RESOURCES", str(write_catalogue(tmp_path / "resources", entry)))
    hub.faults.corrupt.add(WEIGHTS)

    assert main(["models", "download", "tiny-coder"]) == 1
    assert "checksum mismatch" in capsys.readouterr().err
    assert main(["models", "download", "no-such-model"]) == 1
    assert "no model 'no-such-model' in the catalogue" in capsys.readouterr().err


@pytest.mark.gpu
def test_recommendations_for_this_gpu():
    from latentstudio.engine.device import detect_device
    from latentstudio.models.catalogue import Catalogue

    device = detect_device("cuda")
    assert device.kind == "cuda"
    catalogue = Catalogue.load()
    llm = catalogue.recommended("llm", device)
    expected = "Qwen/Qwen2.5-Coder-1.5B-Instruct" if device.total_memory >= 6 * 2**30 else "Qwen/Qwen2.5-Coder-0.5B-Instruct"
    assert llm.repo == expected
    assert catalogue.recommended("clip", device).repo == "laion/CLIP-ViT-B-32-laion2B-s34B-b79K"


@pytest.mark.gpu
def test_downloaded_model_runs_on_cuda_in_float16(ctx: AppContext, hub: FakeHub, entry):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = download_for_app(ctx, entry)

    tokenizer = AutoTokenizer.from_pretrained(model.path, local_files_only=True)
    lm = AutoModelForCausalLM.from_pretrained(model.path, local_files_only=True, dtype=torch.float16).to("cuda")
    ids = tokenizer("def add", return_tensors="pt").input_ids.to("cuda")
    with torch.no_grad():
        logits = lm(ids).logits
    assert logits.dtype == torch.float16 and logits.device.type == "cuda"
    assert torch.isfinite(logits).all()


def test_progress_text_has_bytes_speed_and_eta():
    from latentstudio.models.download import DownloadProgress

    progress = DownloadProgress("x", "downloading", 250_000_000, 1_000_000_000, 5_000_000.0, "model.safetensors")
    assert progress.describe() == "250.0 MB of 1.0 GB · 5.0 MB/s · 2:30 left"
    assert progress.eta_s == 150 and progress.fraction == 0.25
    assert DownloadProgress("x", "verifying", 5, 10, None, "a.bin").describe() == "Verifying a.bin (5 B of 10 B)"
