"""The inference engine: priorities, preemption at checkpoints, cancel, failures, shutdown."""

from __future__ import annotations

import logging
import threading
import time

import numpy as np
import pytest

from latentstudio.engine import Cancelled, DeviceInfo, Engine, EventKind, JobState, Priority


def _blocker(engine: Engine) -> tuple[threading.Event, threading.Event]:
    """Submit a job that holds the engine until released; returns (started, release)."""
    started, release = threading.Event(), threading.Event()

    def hold(job):
        started.set()
        release.wait(10)

    engine.submit(hold, Priority.INTERACTIVE, name="hold")
    assert started.wait(5)
    return started, release


def test_jobs_run_in_priority_order(engine: Engine) -> None:
    order: list[str] = []
    _, release = _blocker(engine)
    handles = [
        engine.submit(lambda job, n=name: order.append(n), priority, name=name)
        for name, priority in [
            ("background", Priority.BACKGROUND),
            ("foreground-1", Priority.FOREGROUND),
            ("interactive", Priority.INTERACTIVE),
            ("foreground-2", Priority.FOREGROUND),
        ]
    ]
    release.set()
    for handle in handles:
        handle.result(timeout=5)
    assert order == ["interactive", "foreground-1", "foreground-2", "background"]


def test_higher_priority_job_runs_at_next_checkpoint(engine: Engine) -> None:
    timeline: list[str] = []
    in_loop = threading.Event()
    go_on = threading.Event()

    def long_job(job):
        for step in range(5):
            timeline.append(f"step{step}")
            if step == 1:
                in_loop.set()
                go_on.wait(5)
            job.checkpoint()
        return "long done"

    long_handle = engine.submit(long_job, Priority.BACKGROUND, name="long")
    assert in_loop.wait(5)
    query = engine.submit(lambda job: timeline.append("query") or "answer", Priority.INTERACTIVE)
    go_on.set()
    assert query.result(timeout=5) == "answer"
    assert long_handle.result(timeout=5) == "long done"
    # the query ran inside step 1's checkpoint, before step 2
    assert timeline == ["step0", "step1", "query", "step2", "step3", "step4"]


def test_a_checkpoint_settles_the_jobs_own_work_before_another_job_runs(engine: Engine) -> None:
    timeline: list[str] = []
    in_loop, go_on = threading.Event(), threading.Event()

    def long_job(job):
        job.checkpoint(settle=lambda: timeline.append("settled, nothing waiting"))
        in_loop.set()
        go_on.wait(5)
        job.checkpoint(settle=lambda: timeline.append("settled"))

    handle = engine.submit(long_job, Priority.BACKGROUND, name="long")
    assert in_loop.wait(5)
    first = engine.submit(lambda job: timeline.append("query 1"), Priority.INTERACTIVE)
    second = engine.submit(lambda job: timeline.append("query 2"), Priority.INTERACTIVE)
    go_on.set()
    for job in (handle, first, second):
        job.result(timeout=5)
    assert timeline == ["settled", "query 1", "query 2"]  # once, before the first; never when none waits


def test_equal_priority_does_not_preempt(engine: Engine) -> None:
    timeline: list[str] = []
    in_loop, go_on = threading.Event(), threading.Event()

    def long_job(job):
        for step in range(3):
            timeline.append(f"step{step}")
            if step == 0:
                in_loop.set()
                go_on.wait(5)
            job.checkpoint()

    first = engine.submit(long_job, Priority.FOREGROUND)
    assert in_loop.wait(5)
    second = engine.submit(lambda job: timeline.append("other"), Priority.FOREGROUND)
    go_on.set()
    first.result(timeout=5)
    second.result(timeout=5)
    assert timeline == ["step0", "step1", "step2", "other"]


def _long_job(timeline: list[str], in_loop: threading.Event, go_on: threading.Event):
    def run(job) -> None:
        for step in range(3):
            timeline.append(f"step{step}")
            if step == 0:
                in_loop.set()
                go_on.wait(5)
            job.checkpoint()

    return run


def test_equal_priority_of_another_kind_takes_a_turn_at_the_next_checkpoint(engine: Engine) -> None:
    timeline: list[str] = []
    in_loop, go_on = threading.Event(), threading.Event()
    first = engine.submit(_long_job(timeline, in_loop, go_on), Priority.FOREGROUND, kind="image")
    assert in_loop.wait(5)
    code = engine.submit(lambda job: timeline.append("code"), Priority.FOREGROUND, kind="codegen")
    second_image = engine.submit(lambda job: timeline.append("image2"), Priority.FOREGROUND, kind="image")
    go_on.set()
    for handle in (first, code, second_image):
        handle.result(timeout=5)
    # The code job starts at the image's next step; the second image waits for the first.
    assert timeline == ["step0", "code", "step1", "step2", "image2"]


def test_a_turn_waits_when_both_models_do_not_fit(cpu_device) -> None:
    from latentstudio.engine import ModelCache

    cache = ModelCache(budget_bytes=1000, idle_unload_s=600)
    timeline: list[str] = []
    in_loop, go_on = threading.Event(), threading.Event()

    def image(job) -> None:
        with job.models.use("image-model", lambda: np.zeros(800, dtype=np.uint8), size_hint=800):
            _long_job(timeline, in_loop, go_on)(job)

    with Engine(device=cpu_device, models=cache) as eng:
        first = eng.submit(image, Priority.FOREGROUND, kind="image")
        assert in_loop.wait(5)
        messages: list[str] = []
        code = eng.submit(lambda job: timeline.append("code"), Priority.FOREGROUND, kind="codegen",
                          memory_bytes=500,
                          on_event=lambda e: e.kind is EventKind.PROGRESS and messages.append(e.payload.message))
        go_on.set()
        first.result(timeout=5)
        code.result(timeout=5)
    assert timeline == ["step0", "step1", "step2", "code"]
    assert messages and "do not fit in memory" in messages[0]


def test_cancel_stops_running_job_at_next_checkpoint(engine: Engine) -> None:
    steps: list[int] = []
    in_loop = threading.Event()
    events: list[EventKind] = []

    def long_job(job):
        for step in range(1000):
            steps.append(step)
            in_loop.set()
            time.sleep(0.005)
            job.checkpoint()

    handle = engine.submit(long_job, Priority.FOREGROUND, on_event=lambda e: events.append(e.kind))
    assert in_loop.wait(5)
    handle.cancel()
    with pytest.raises(Cancelled):
        handle.result(timeout=5)
    assert handle.state is JobState.CANCELLED
    assert len(steps) < 1000
    assert events[-1] is EventKind.CANCELLED
    # the engine is free for the next job
    assert engine.submit(lambda job: 42).result(timeout=5) == 42


def test_cancel_queued_job_never_runs(engine: Engine) -> None:
    ran: list[str] = []
    _, release = _blocker(engine)
    handle = engine.submit(lambda job: ran.append("no"), Priority.FOREGROUND)
    handle.cancel()
    assert handle.state is JobState.CANCELLED
    release.set()
    assert engine.submit(lambda job: "next").result(timeout=5) == "next"
    assert ran == []


def test_failure_reaches_handle_and_log_and_next_job_runs(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(job):
        raise ValueError("bad input 123")

    with caplog.at_level(logging.ERROR):
        handle = engine.submit(broken, name="broken-job")
        with pytest.raises(ValueError, match="bad input 123"):
            handle.result(timeout=5)
    assert handle.state is JobState.FAILED
    assert any("broken-job" in r.getMessage() and r.exc_info for r in caplog.records)
    assert engine.submit(lambda job: "still alive").result(timeout=5) == "still alive"


def test_events_progress_preview_partial(engine: Engine) -> None:
    seen: list[tuple[EventKind, object]] = []

    def job_fn(job):
        job.progress(1, 2, "half")
        job.preview("picture")
        job.partial("tok")
        return "ok"

    handle = engine.submit(job_fn, on_event=lambda e: seen.append((e.kind, e.payload)))
    assert handle.result(timeout=5) == "ok"
    kinds = [k for k, _ in seen]
    assert kinds == [
        EventKind.QUEUED,
        EventKind.STARTED,
        EventKind.PROGRESS,
        EventKind.PREVIEW,
        EventKind.PARTIAL,
        EventKind.FINISHED,
    ]
    assert seen[2][1].fraction == 0.5 and seen[2][1].message == "half"
    assert handle.progress.done == 1


def test_result_timeout(engine: Engine) -> None:
    _, release = _blocker(engine)
    handle = engine.submit(lambda job: None)
    with pytest.raises(TimeoutError):
        handle.result(timeout=0.05)
    release.set()
    handle.result(timeout=5)


def test_move_reorders_queued_jobs(engine: Engine) -> None:
    order: list[str] = []
    _, release = _blocker(engine)
    handles = [engine.submit(lambda job, n=n: order.append(n), name=n) for n in "abc"]
    assert engine.move(handles[2], -2)
    assert [h.name for h in engine.queued()] == ["c", "a", "b"]
    release.set()
    for handle in handles:
        handle.result(timeout=5)
    assert order == ["c", "a", "b"]


@pytest.mark.parametrize("release_models", [True, False])
def test_shutdown_releases_models_unless_the_process_ends(cpu_device: DeviceInfo, release_models: bool) -> None:
    """A process that ends right after (the CLI, the window) does not free each model first."""
    eng = Engine(device=cpu_device).start()

    def load(job):
        with job.cpu_models.use("tower", lambda: np.zeros(4, dtype=np.float32)):
            pass

    eng.submit(load).result(timeout=5)
    assert "tower" in eng.cpu_models
    eng.shutdown(timeout=5, release_models=release_models)
    assert not eng.running
    assert ("tower" in eng.cpu_models) is not release_models


def test_shutdown_cancels_queued_and_joins_thread(cpu_device: DeviceInfo) -> None:
    eng = Engine(device=cpu_device).start()
    started = threading.Event()

    def long_job(job):
        started.set()
        while True:
            time.sleep(0.01)
            job.checkpoint()

    running = eng.submit(long_job)
    assert started.wait(5)
    queued = eng.submit(lambda job: None)
    eng.shutdown(timeout=5)
    assert running.state is JobState.CANCELLED
    assert queued.state is JobState.CANCELLED
    assert not eng.running
    assert not [t for t in threading.enumerate() if t.name == "latent-inference"]
    with pytest.raises(RuntimeError):
        eng.submit(lambda job: None)


def test_device_is_detected_when_first_needed() -> None:
    eng = Engine(device_preference="cpu").start()
    try:
        # A job that needs no device (the onnxruntime text tower) runs without detecting one.
        assert eng.submit(lambda job: job.cpu_models is not None).result(10)
        assert eng.device_if_ready is None
        assert eng.submit(lambda job: job.device.kind).result(10) == "cpu"
        device = eng.device
        assert device.dtype_name == "float32"
        assert device.fallback_reason == "CPU chosen in Settings"
    finally:
        eng.shutdown()


def test_device_detection_in_the_background_announces_it() -> None:
    eng = Engine(device_preference="cpu").start()
    ready = threading.Event()
    seen: list[object] = []

    def listener(event) -> None:
        if event.kind is EventKind.DEVICE_READY:
            seen.append(event.payload)
            ready.set()

    eng.add_listener(listener)
    try:
        eng.detect_device_in_background()
        assert ready.wait(30)
        assert seen == [eng.device_if_ready] and eng.device_if_ready.kind == "cpu"
        eng.detect_device_in_background()  # already known: nothing more
        assert len(seen) == 1
    finally:
        eng.shutdown()


def test_a_failing_listener_breaks_neither_the_job_nor_other_listeners(engine: Engine) -> None:
    seen: list[EventKind] = []

    def broken(event) -> None:
        raise RuntimeError("listener bug")

    engine.add_listener(broken)
    _, release = _blocker(engine)
    handle = engine.submit(lambda job: job.progress(1, 1) or "done", on_event=broken)
    handle.subscribe(lambda event: seen.append(event.kind))
    release.set()
    assert handle.result(timeout=5) == "done"
    assert seen == [EventKind.STARTED, EventKind.PROGRESS, EventKind.FINISHED]


def test_the_final_event_is_delivered_before_the_job_reports_done(engine: Engine) -> None:
    """Whoever waits on the handle finds every event already delivered, for each way a job ends."""
    def fail(job) -> None:
        raise ValueError("bad input")

    def slow_to_cancel(job) -> None:
        while True:
            job.checkpoint()

    for fn, final in ((lambda job: "ok", EventKind.FINISHED), (fail, EventKind.FAILED),
                      (slow_to_cancel, EventKind.CANCELLED)):
        seen: list[EventKind] = []
        started = threading.Event()

        def listener(event, seen=seen, started=started) -> None:
            if event.kind is EventKind.STARTED:
                started.set()
            elif event.kind is final:
                time.sleep(0.05)  # a slow listener: `done()` must still wait for it
            seen.append(event.kind)

        handle = engine.submit(fn, on_event=listener)
        if final is EventKind.CANCELLED:
            assert started.wait(5)
            handle.cancel()
        assert handle.wait(5)
        assert seen[-1] is final, seen
        assert seen.count(final) == 1


def test_device_detection_waits_for_interactive_work_and_jobs_wait_for_it(monkeypatch) -> None:
    import latentstudio.engine.engine as engine_module

    started, release = threading.Event(), threading.Event()

    def slow_detect(preference: str) -> DeviceInfo:
        started.set()
        release.wait(10)  # importing torch
        return DeviceInfo.cpu("test")

    monkeypatch.setattr(engine_module, "detect_device", slow_detect)
    eng = Engine(device_preference="cpu").start()
    try:
        gate = threading.Event()
        first = eng.submit(lambda job: gate.wait(10), priority=Priority.INTERACTIVE, name="first search")
        eng.detect_device_in_background()
        time.sleep(0.2)
        assert not started.is_set()  # not while a search runs
        gate.set()
        first.result(10)
        assert started.wait(10)
        # A job that needs the device waits for the detection at checkpoints: a search still answers.
        needs_device = eng.submit(lambda job: job.device.kind, priority=Priority.BACKGROUND, name="index")
        time.sleep(0.2)
        assert eng.submit(lambda job: "answer", priority=Priority.INTERACTIVE).result(5) == "answer"
        assert not needs_device.done()
        release.set()
        assert needs_device.result(10) == "cpu"
    finally:
        release.set()
        eng.shutdown()


def test_closing_the_context_does_not_wait_out_a_step(ctx) -> None:
    gate, running = threading.Event(), threading.Event()

    def step(job) -> None:
        running.set()
        gate.wait(10)  # one uninterruptible step (a batch being encoded)
        job.checkpoint()

    handle = ctx.engine.submit(step, priority=Priority.BACKGROUND)
    assert running.wait(10)
    library = ctx.library
    assert ctx.close(timeout=0.2) is False  # the window then ends the process at once
    assert library.store.has_vectors("none") is False  # a store still in use stays open
    gate.set()
    handle.wait(10)
    assert handle.state is JobState.CANCELLED


def test_closing_an_idle_context_stops_everything(ctx) -> None:
    assert ctx.engine.submit(lambda job: 1).result(10) == 1
    assert ctx.close(timeout=0.2) is True


def test_a_ctrl_c_the_kernel_gave_another_thread_still_interrupts_a_command_waiting(engine: Engine) -> None:
    """The CLI waits on its job with `wait()`/`result()`; one blocking wait would see a SIGINT
    delivered to one of the process's other threads (Ray's, onnxruntime's) only when the job ended."""
    import signal

    release = threading.Event()
    handle = engine.submit(lambda job: release.wait(20), name="long job")
    threading.Timer(0.3, lambda: signal.pthread_kill(threading.get_ident(), signal.SIGINT)).start()
    started = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            handle.result()
        assert time.monotonic() - started < 5
    finally:
        release.set()
        handle.wait(20)
