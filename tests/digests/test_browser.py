"""The digest's HTML in a real headless Chromium: it renders, its charts load, nothing typed runs."""

from __future__ import annotations

from pathlib import Path

from selenium.webdriver.common.by import By

from digests.example import HOSTILE, write_example
from digests.model import Quote
from digests.render import render
from tests.digests.conftest import deploy
from tests.support.browser import headless_chromium


def test_the_digest_renders_with_its_charts_and_runs_no_script(tmp_path: Path) -> None:
    deployed = deploy(f"sqlite:///{tmp_path / 'b.db'}", None, tmp_path / "outbox")
    try:
        lyon = deployed.council("lyon-council")
        digest = deployed.service.build(lyon, deployed.week)
    finally:
        deployed.app.close()
    # A quote as someone might type it: markup and script must stay text.
    digest = digest.__class__(**{**digest.__dict__, "quotes": (Quote(HOSTILE, "transport"),)})
    rendered = render(digest)
    page = tmp_path / "digest.html"
    page.write_text(rendered.html_file, encoding="utf-8")
    with headless_chromium() as browser:
        browser.get(page.as_uri())
        # Anything that ran would have had to come from the page: there is no script element at all.
        assert browser.execute_script("return document.scripts.length") == 0
        assert browser.execute_script("return typeof window.alert") == "function"
        heading = browser.find_element(By.TAG_NAME, "h1").text
        assert heading == "Ce que disent les jeunes de Lyon"
        charts = browser.find_elements(By.CSS_SELECTOR, "img.chart")
        assert len(charts) == len(digest.questions) > 5
        for chart in charts:
            assert browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth",
                                          chart) == 640
        quote = browser.find_element(By.CSS_SELECTOR, "p.quote").text
        assert HOSTILE in quote
        assert browser.find_elements(By.CSS_SELECTOR, "p.quote b") == []
        assert browser.execute_script("return document.body.scrollHeight") > 2000


def test_the_example_digests_in_docs_are_current(tmp_path: Path) -> None:
    docs = Path(__file__).resolve().parents[2] / "docs" / "digest-example"
    written = [path for path in write_example(tmp_path) if path.suffix in (".txt", ".csv")]
    assert len(written) == 4
    for path in written:
        assert path.read_text(encoding="utf-8") == (docs / path.name).read_text(encoding="utf-8"), (
            f"docs/digest-example/{path.name} is out of date: run `make example-digest`")
