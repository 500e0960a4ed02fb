"""The HTML gallery in a real headless Chromium: pages load, every image renders, no console errors."""

from __future__ import annotations

import pytest
from unitscope.infra.server import create_app

from tests.infra.cdp import Browser, chromium_path
from tests.infra.live_server import live_server
from tests.probe.query_run import small_run

IMAGES = "Array.from(document.images).map(i => [i.getAttribute('src'), i.complete, i.naturalWidth])"


@pytest.fixture(scope="module")
def browser():
    exe = chromium_path()
    if exe is None:
        pytest.skip("chromium is not installed")
    b = Browser(exe)
    yield b
    b.close()


@pytest.mark.slow
def test_gallery_pages_render(browser, tmp_path_factory, ray_local):
    run = small_run(tmp_path_factory)
    with live_server(create_app(str(run.run))) as url:
        index = browser.visit(
            url + "/", f"[document.title, {IMAGES}, Array.from(document.links).map(a => a.href)]"
        )
        assert index["errors"] == []
        title, images, links = index["value"]
        concepts = {r["concept"] for r in run.catalog()}
        assert "concepts" in title and len(images) == len(concepts)
        assert all(complete and width > 0 for _, complete, width in images), images
        unit_links = [link for link in links if "/gallery/units/" in link]
        assert len(unit_links) == len(concepts)

        page = browser.visit(
            unit_links[0] + "?top=6", f"[{IMAGES}, document.querySelectorAll('svg rect').length]"
        )
        assert page["errors"] == []
        images, bars = page["value"]
        assert len(images) == 6 and all(complete and width > 0 for _, complete, width in images), images
        unit = "/".join(unit_links[0].rsplit("/", 2)[-2:])
        top_keys = next(u["top_keys"] for u in run.units() if u["unit"] == unit)
        layer, channel = unit.split("/")
        # each top frame shown as the unit's map over it (computed by the overlay route, loaded lazily)
        assert [src for src, _, _ in images] == [
            f"/units/{layer}/{channel}/overlays/{k}.png" for k in top_keys[:6]
        ]
        assert bars == len(next(u["hist_counts"] for u in run.units() if u["unit"] == unit))

        # A page for a unit that does not exist reports its error, and the browser sees it as one.
        missing = browser.visit(url + "/gallery/units/conv1/999", "document.body.innerText")
        assert "999" in missing["value"] and missing["errors"]


@pytest.mark.slow
def test_report_is_one_self_contained_page_with_overlays(browser, tmp_path_factory, ray_local):
    run = small_run(tmp_path_factory)
    report = run.run / "probe" / "report.html"
    got = browser.visit(report.as_uri(), f"[{IMAGES}, document.querySelectorAll('[data-label]').length]")
    assert got["errors"] == []
    images, marked = got["value"]
    assert images and all(src.startswith("data:") and complete and w > 0 for src, complete, w in images)
    assert marked == len(images)  # every shown frame is an overlay marked with its label
