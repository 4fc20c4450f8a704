"""A partner watches a campaign's status page in a real browser while the bot itself (`youthvoice
run`, its own process) sends the invitations to emulated Telegram users, through Telegram's flood
limit (429 with retry_after) as the emulator enforces it. Screenshots of the status page in French
and English go to docs/console/ with --update-screenshots."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.support.browser import headless_chromium
from tests.support.deployment import campaign_text, seed_participants, write_deployment
from tests.support.live_server import live_server
from tests.support.postgres import reset_schema
from tests.support.telegram import EmulatedBot, start_emulator
from tests.telegram.botprocess import BotProcess
from tests.web.conftest import Site
from tests.web.test_browser import (
    DOCS,
    click_and_wait,
    figure,
    loaded,
    sign_in,
    submit,
    switch_language,
)
from web.app import create_app

pytestmark = [pytest.mark.browser, pytest.mark.telegram, pytest.mark.postgres]

PEOPLE = 30
FIRST_USER = 100_001
# A deployment sending 3 messages a second, and Telegram's flood limit as the emulator applies it
# just under that: the broadcaster meets 429s, and the sending lasts long enough to be watched.
RATE = 3
LIMIT_PER_SECOND = 2


@pytest.fixture
def database_url(postgres_url: str) -> str:
    """PostgreSQL: the console and the bot are two processes writing the same database."""
    reset_schema(postgres_url)
    return postgres_url


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    """config.yml as shipped, at a slow rate and without quiet hours (the test may run at any hour
    in Lyon)."""
    return write_deployment(tmp_path, rate=RATE, quiet=("00:00", "00:00"))


def on_emulator(emulator_url: str, token: str, work: str, *args: object) -> object:
    async def call() -> object:
        async with EmulatedBot(emulator_url, token) as bot:
            if work == "limit":
                return await bot.limit_rate(LIMIT_PER_SECOND, burst=2)
            if work == "refused":
                return await bot.refused_by_limit()
            chat = args[0]
            assert isinstance(chat, int)
            return [message.text for message in await bot.sent_messages(chat)]

    return asyncio.run(call())


def full_page_shot(browser: WebDriver, path: Path) -> None:
    height = int(browser.execute_script("return document.documentElement.scrollHeight"))
    browser.set_window_size(1000, min(max(height + 100, 600), 2400))
    browser.save_screenshot(str(path))
    browser.set_window_size(1000, 900)


@pytest.fixture
def emulator_url() -> Iterator[str]:
    with start_emulator() as emulator:
        yield emulator.url


def test_status_moves_while_the_bot_sends_on_the_emulator(site: Site, tmp_path: Path, emulator_url: str,
                                                         database_url: str, config_path: Path,
                                                         request: pytest.FixtureRequest) -> None:
    shots = DOCS if request.config.getoption("--update-screenshots") else tmp_path / "shots"
    shots.mkdir(parents=True, exist_ok=True)
    token = "1234567890:" + "a" * 35
    on_emulator(emulator_url, token, "limit")
    seed_participants(site.app.sessions, PEOPLE, city="lyon", first_chat=FIRST_USER, language="en")
    site.account("lea@mdj.example", "partner", partner="maison-des-jeunes", language="en",
                 name="Léa Martin")
    campaign = tmp_path / "quartier.yml"
    campaign.write_text(campaign_text("quartier"), encoding="utf-8")

    bot = BotProcess(EmulatedBot(emulator_url, token), database_url, tmp_path, config=config_path)
    bot.start()
    try:
        with live_server(create_app(site.console)) as base, \
                headless_chromium(width=1000, height=900) as browser:
            sign_in(browser, base, "lea@mdj.example")
            click_and_wait(browser, browser.find_element(By.LINK_TEXT, "Check a file"))
            browser.find_element(By.NAME, "file").send_keys(str(campaign))
            submit(browser, "main form[enctype] button[type=submit]")
            submit(browser, "form[action='/campaigns/publish'] button[type=submit]")
            assert figure(browser, "in the target") == str(PEOPLE)
            click_and_wait(browser, browser.find_element(By.XPATH,
                                                         "//button[text()='Send the invitations now']"))
            # The running bot may have begun already: it offers a published campaign by itself.
            assert "Invitations queued" in browser.page_source

            # The partner keeps the page open and reloads it, as its own refresh would. "Invited"
            # counts the invitations Telegram accepted: through its 429s it only ever goes up.
            midway = False
            seen: list[str] = []
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                browser.refresh()
                loaded(browser)
                invited = figure(browser, "invited")
                if not seen or seen[-1] != invited:
                    seen.append(invited)
                if invited not in {"0", "< 5", str(PEOPLE)} and not midway:
                    full_page_shot(browser, shots / "partner-status-en.png")
                    midway = True
                if invited == str(PEOPLE):
                    break
                time.sleep(0.3)
            assert seen[-1] == str(PEOPLE), f"not everything was sent: {seen}\n{bot.log.read_text()}"
            # The figure moved through values between none and all, never back.
            order = [0 if n == "0" else 1 if n == "< 5" else int(n) for n in seen]
            assert order == sorted(order), seen
            assert len(set(seen) - {"0", str(PEOPLE)}) >= 2, seen
            assert midway
            assert "waiting to be sent" not in browser.page_source
            switch_language(browser)
            assert figure(browser, "invités") == str(PEOPLE)
            full_page_shot(browser, shots / "partner-status-fr.png")
    finally:
        bot.stop()

    # Telegram's limit was met and honoured: refused calls, and yet one invitation each.
    assert int(str(on_emulator(emulator_url, token, "refused"))) > 0
    for chat in range(FIRST_USER, FIRST_USER + PEOPLE):
        texts = on_emulator(emulator_url, token, "messages", chat)
        assert isinstance(texts, list) and len(texts) == 1, (chat, texts)
        assert texts[0].startswith("New survey for you: “Your neighbourhood”")
