"""Debian's chromium, headless, driven by Selenium through chromium-driver: no browser download."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


class BrowserUnavailableError(RuntimeError):
    pass


@contextmanager
def headless_chromium(width: int = 760, height: int = 1200) -> Iterator[webdriver.Chrome]:
    if not CHROMIUM.exists() or shutil.which(str(CHROMEDRIVER)) is None:
        raise BrowserUnavailableError("chromium and chromium-driver are needed: make system-deps")
    options = Options()
    options.binary_location = str(CHROMIUM)
    # An empty profile each time, and nothing that would reach out to the network by itself.
    profile = tempfile.TemporaryDirectory(prefix="youthvoice-chromium-")
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-quic", "--disable-background-networking", "--disable-component-update",
                 "--disable-extensions", "--disable-sync", "--no-first-run", "--mute-audio",
                 "--hide-scrollbars", f"--user-data-dir={profile.name}", f"--window-size={width},{height}"):
        options.add_argument(flag)
    try:
        driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
        try:
            yield driver
        finally:
            driver.quit()
    finally:
        profile.cleanup()
