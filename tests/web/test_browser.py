"""The console in a real headless Chromium (Debian's, through chromium-driver): a partner sets their
password, checks a campaign with a mistake, fixes it and tries it; a council officer reads a digest
and results; safeguarding staff answer an alert. Screenshots of the pages in French and English go
to docs/console/ with --update-screenshots."""

from __future__ import annotations

from pathlib import Path

import pytest
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.wait import WebDriverWait

from storage import campaign_store as store
from storage import staff_repository as staff
from tests.support.browser import headless_chromium
from tests.support.deployment import campaign_text, seed_participants
from tests.support.live_server import live_server
from tests.web.conftest import PASSWORD, ROOT, Site
from tests.web.test_council_pages import seed
from tests.web.test_partner_check import BROKEN, GOOD
from tests.web.test_safeguarding_pages import raise_alert
from web import accounts
from web.app import create_app

DOCS = ROOT / "docs" / "console"

pytestmark = pytest.mark.browser


def fill(browser: WebDriver, name: str, value: str) -> None:
    field = browser.find_element(By.NAME, name)
    field.clear()
    field.send_keys(value)


def click_and_wait(browser: WebDriver, element: WebElement) -> None:
    """Click, then wait for the next page: a click alone returns before the browser has navigated."""
    page = browser.find_element(By.TAG_NAME, "html")
    element.click()

    def left(_: WebDriver) -> bool:
        try:
            page.is_enabled()
        except WebDriverException:  # stale, or already gone from the new document
            return True
        return False

    WebDriverWait(browser, 10).until(left)
    loaded(browser)


def loaded(browser: WebDriver) -> None:
    WebDriverWait(browser, 10).until(lambda b: b.execute_script("return document.readyState") == "complete")


def submit(browser: WebDriver, selector: str = "main form button[type=submit]") -> None:
    click_and_wait(browser, browser.find_element(By.CSS_SELECTOR, selector))


def pick(browser: WebDriver, name: str, value: str) -> None:
    """Set a date-and-time field as its picker would (typing into one depends on the locale)."""
    browser.execute_script("arguments[0].value = arguments[1]", browser.find_element(By.NAME, name), value)


def figure(browser: WebDriver, name: str) -> str:
    for box in browser.find_elements(By.CSS_SELECTOR, ".figure"):
        if box.text.endswith(name):
            return str(box.find_element(By.TAG_NAME, "strong").text)
    raise AssertionError(f"no figure {name!r}")


def sign_in(browser: WebDriver, base: str, email: str) -> None:
    browser.get(f"{base}/login")
    fill(browser, "email", email)
    fill(browser, "password", PASSWORD)
    submit(browser)


def sign_out(browser: WebDriver) -> None:
    click_and_wait(browser, browser.find_element(By.XPATH, "//header//form[@action='/logout']//button"))


def switch_language(browser: WebDriver) -> None:
    click_and_wait(browser, browser.find_element(By.XPATH, "//header//form[@action='/language']//button"))


def test_the_console_in_a_real_browser(site: Site, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    shots = DOCS if request.config.getoption("--update-screenshots") else tmp_path / "shots"
    shots.mkdir(parents=True, exist_ok=True)
    seed(site, tmp_path)
    alert = raise_alert(site, "lyon", "mon beau-père me frappe <b>fort</b>", "77")
    site.account("conseil@lyon.example", "council", council="lyon-council", language="fr",
                 name="Service jeunesse")
    site.account("veille@example.org", "safeguarding", language="fr", name="Samia (protection)")
    with site.app.sessions.begin() as session:
        link = accounts.add_account(session, site.app.config, site.console.settings,
                                    email="lea@mdj.example", name="Léa Martin", role="partner",
                                    partner_id="maison-des-jeunes", council_id=None, language="fr",
                                    actor="test", now=site.clock())
    seed_participants(site.app.sessions, 30, city="lyon")
    quartier = tmp_path / "quartier.yml"
    quartier.write_text(campaign_text("quartier"), encoding="utf-8")
    broken, good = tmp_path / "ma-campagne.yml", tmp_path / "ma-campagne-corrigee.yml"
    broken.write_text(BROKEN, encoding="utf-8")
    good.write_text(GOOD, encoding="utf-8")

    with live_server(create_app(site.console)) as base, headless_chromium(width=1000, height=900) as browser:
        def shot(name: str, *, full: bool = True) -> None:
            if full:
                height = browser.execute_script("return document.documentElement.scrollHeight")
                browser.set_window_size(1000, min(max(int(height) + 100, 600), 2400))
            browser.execute_script("window.scrollTo(0, 0)")
            browser.save_screenshot(str(shots / f"{name}.png"))
            browser.set_window_size(1000, 900)

        # The partner follows the one-time link, chooses a password, lands on the campaign check.
        browser.get(base + link.url.removeprefix(site.console.settings.base_url))
        fill(browser, "password", PASSWORD)
        fill(browser, "again", PASSWORD)
        submit(browser)
        assert browser.current_url.endswith("/campaigns")
        assert "Vos campagnes" in browser.find_element(By.TAG_NAME, "h1").text
        click_and_wait(browser, browser.find_element(By.LINK_TEXT, "Vérifier un fichier"))
        assert "Vérifier un fichier de campagne" in browser.find_element(By.TAG_NAME, "h1").text

        browser.find_element(By.NAME, "file").send_keys(str(broken))
        submit(browser, "main form[enctype] button[type=submit]")
        bad = browser.find_element(By.CSS_SELECTOR, "tr.bad")
        assert "id: My City" in bad.text and "n'est pas un id valide" in bad.text
        shot("partner-check-fr")
        switch_language(browser)
        assert "Check a campaign file" in browser.find_element(By.TAG_NAME, "h1").text
        browser.find_element(By.NAME, "file").send_keys(str(broken))
        submit(browser, "main form[enctype] button[type=submit]")
        shot("partner-check-en")

        browser.find_element(By.NAME, "file").send_keys(str(good))
        submit(browser, "main form[enctype] button[type=submit]")
        assert "No problem found in ma-campagne-corrigee.yml." in browser.page_source
        click_and_wait(browser, browser.find_element(By.XPATH, "//button[text()='Try it in English']"))
        assert "How do you usually get around town?" in browser.page_source
        click_and_wait(browser, browser.find_element(
            By.XPATH, "//form[@class='choices']/button[text()='Bus, tram or metro']"))
        assert "What gets in your way most" in browser.page_source
        shot("partner-preview-en")

        # Publish a campaign of its own, schedule it, then send it at once (test_browser_broadcast
        # watches the bot send on the Telegram emulator).
        click_and_wait(browser, browser.find_element(By.LINK_TEXT, "Check a file"))
        browser.find_element(By.NAME, "file").send_keys(str(quartier))
        submit(browser, "main form[enctype] button[type=submit]")
        click_and_wait(browser, browser.find_element(By.XPATH, "//button[text()='Publish']"))
        assert browser.current_url.endswith("/campaigns/quartier?done=published")
        assert figure(browser, "in the target") == "30"
        # The browser's own date-and-time fields: a closing time before the opening time is refused.
        pick(browser, "opens", "2026-06-03T10:00")
        pick(browser, "closes", "2026-06-02T18:00")
        submit(browser, "form[action^='/campaigns/quartier/schedule'] button")
        assert "comes before the opening time" in browser.find_element(By.CSS_SELECTOR, "p.problem").text
        pick(browser, "closes", "2026-06-20T18:00")
        submit(browser, "form[action^='/campaigns/quartier/schedule'] button")
        assert "Schedule saved." in browser.page_source and "Version 1 · scheduled" in browser.page_source
        shot("partner-schedule-en")
        pick(browser, "opens", "")
        submit(browser, "form[action^='/campaigns/quartier/schedule'] button")
        click_and_wait(browser, browser.find_element(By.XPATH, "//button[text()='Send the invitations now']"))
        assert "30 invitations waiting to be sent" in browser.page_source
        sign_out(browser)

        # The council officer reads the digest, then the results of the city's campaign.
        sign_in(browser, base, "conseil@lyon.example")
        assert browser.current_url.endswith("/council")
        shot("council-fr")
        click_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "main ul a"))
        frame = browser.find_element(By.CSS_SELECTOR, "iframe.digest")
        browser.switch_to.frame(frame)
        loaded(browser)
        heading = browser.find_element(By.TAG_NAME, "h1").get_attribute("textContent") or ""
        assert "Ce que disent les jeunes de Lyon" in heading
        assert browser.execute_script("return document.images.length && "
                                      "Array.from(document.images).every(i => i.naturalWidth > 0)")
        browser.switch_to.default_content()
        shot("council-digest-fr", full=False)
        browser.get(f"{base}/council/results/my-city")
        assert browser.find_elements(By.CSS_SELECTOR, "table.bars svg rect")
        shot("council-results-fr")
        fill(browser, "fr", "Merci ! Nous ouvrons une ligne de bus de nuit en mars.")
        fill(browser, "en", "Thank you! A night bus line opens in March.")
        submit(browser, "form[action$='/answer'] button")
        assert "La mairie a répondu le" in browser.page_source
        switch_language(browser)
        assert "Every answer so far from Lyon" in browser.page_source
        shot("council-results-en")
        sign_out(browser)

        # Safeguarding staff answer the young person through the bot.
        sign_in(browser, base, "veille@example.org")
        click_and_wait(browser, browser.find_element(By.LINK_TEXT, alert))
        message = browser.find_element(By.CSS_SELECTOR, "dd.bubble").text
        assert message == "mon beau-père me frappe <b>fort</b>"
        fill(browser, "text", "Bonjour, nous avons lu ton message. Tu peux appeler le 119, jour et nuit.")
        submit(browser, "form[action$='/reply'] button")
        history = browser.find_element(By.XPATH, "//h2[text()='Historique']/following::table").text
        assert "réponse envoyée" in history
        shot("safeguarding-alert-fr")
        assert browser.execute_script("return document.scripts.length") == 0
        sign_out(browser)

        # Anyone, on a phone: the public results of the campaign once it is closed.
        with site.app.sessions.begin() as session:
            store.close_run(session, "my-city", site.clock())
        browser.set_window_size(400, 900)
        for language in ("fr", "en"):
            browser.get(f"{base}/results/lyon?lang={language}")
            assert browser.find_elements(By.CSS_SELECTOR, "table.bars svg rect")
            width = browser.execute_script("return document.documentElement.scrollWidth")
            assert width <= 400, f"the public page scrolls sideways on a phone ({width}px)"
            browser.set_window_size(400, min(int(browser.execute_script(
                "return document.documentElement.scrollHeight")) + 100, 2400))
            browser.save_screenshot(str(shots / f"public-{language}.png"))
            browser.set_window_size(400, 900)

    with site.app.sessions() as session:
        actions = [event.action for event in staff.audit_trail(session)]
    assert {"password_set", "signed_in", "alert_replied"} <= set(actions)

