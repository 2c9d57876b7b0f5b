"""The window indexes on the Ray cluster set in Settings, and says why when it cannot."""

from __future__ import annotations

from pathlib import Path

import pytest

from latentstudio.context import AppContext
from latentstudio.library.service import index_library
from latentstudio.library import cluster_index, cluster_setup
from latentstudio.ui.page_services import PageServices
from latentstudio.ui.pages.search_page import SearchPage
from latentstudio.ui.pages.settings_page import SettingsPage
from tests.support.shape_pictures import write_shapes


def test_settings_keep_the_cluster_address_and_refuse_a_bad_one(qtbot, ctx: AppContext) -> None:
    page = SettingsPage(ctx)
    qtbot.addWidget(page)
    assert page.cluster.isEnabled()  # the test set-up installs the cluster extra
    page.cluster.setText("  ray://head:10001 ")
    page.save()
    assert ctx.settings.cluster_address == "ray://head:10001"
    reopened = AppContext(ctx.paths)
    try:
        assert reopened.settings.cluster_address == "ray://head:10001"
    finally:
        reopened.close()
    page.cluster.setText("ray://head 10001")
    page.save()
    assert "Could not save settings" in page.status.text() and ctx.settings.cluster_address == "ray://head:10001"


@pytest.fixture
def search_page(qtbot, ctx: AppContext, tiny_models, tmp_path: Path):
    ctx.registry.import_path(tiny_models("clip-shapes"), kind="clip", model_id="shapes", link=True)
    photos = write_shapes(tmp_path / "photos", per_class=1, seed=4, size=48)
    ctx.settings.update(library_folders=[str(photos)])
    services = PageServices.create(ctx)
    page = SearchPage(services)
    qtbot.addWidget(page)
    yield page, len(list(photos.iterdir()))
    qtbot.waitUntil(lambda: not page.controller.busy, timeout=30000)
    services.bridge.detach()


def test_new_pictures_are_encoded_on_the_cluster_set_in_settings(qtbot, ctx: AppContext, search_page,
                                                                  monkeypatch) -> None:
    page, pictures = search_page
    plans = []

    def on_cluster(engine, registry, library, plan, model_id=None, on_event=None):
        plans.append(plan)
        # The encoding itself is covered by test_cluster_index.py.
        return index_library(engine, registry, library, ctx.clip_exports, on_event=on_event)

    monkeypatch.setattr(cluster_index, "index_on_cluster", on_cluster)
    ctx.settings.update(cluster_address="local")
    page.show()
    page.controller.start()
    qtbot.waitUntil(lambda: bool(plans), timeout=30000)
    assert plans[0].address == "local"
    # Its progress lines and its report all say where it encodes (whichever shows now).
    qtbot.waitUntil(lambda: "on the cluster at local" in page.folders.status.text(), timeout=30000)
    qtbot.waitUntil(lambda: ctx.library.store.status()["indexed"] == pictures, timeout=60000)


def test_without_the_cluster_extra_the_window_indexes_here_and_says_why(qtbot, ctx: AppContext, search_page,
                                                                         monkeypatch) -> None:
    page, pictures = search_page
    monkeypatch.setattr(cluster_setup, "cluster_support",
                        lambda: {"installed": False, "versions": {"ray": None}, "hint": cluster_setup.INSTALL_HINT})
    ctx.settings.update(cluster_address="ray://head:10001")
    page.show()
    page.controller.start()
    qtbot.waitUntil(lambda: "Indexing on this computer" in page.summary.text(), timeout=30000)
    assert "pip install 'latent-studio[cluster]'" in page.summary.text()
    qtbot.waitUntil(lambda: ctx.library.store.status()["indexed"] == pictures, timeout=60000)
