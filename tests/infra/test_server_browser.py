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
        assert [src for src, _, _ in images] == [f"/frames/{k}.jpg" for k in top_keys[:6]]
        assert bars == len(next(u["hist_counts"] for u in run.units() if u["unit"] == unit))

        # A page for a unit that does not exist reports its error, and the browser sees it as one.
        missing = browser.visit(url + "/gallery/units/conv1/999", "document.body.innerText")
        assert "999" in missing["value"] and missing["errors"]
