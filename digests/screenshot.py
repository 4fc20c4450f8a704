"""A picture of a digest as a mail client shows it, taken with Debian's headless chromium.

Selenium is a development dependency: this is for the documentation, not for the running bot.
"""

from __future__ import annotations

import sys
from pathlib import Path


def screenshot(html: Path, png: Path, width: int = 760) -> Path:
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--hide-scrollbars", f"--window-size={width},1000"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path="/usr/bin/chromedriver"), options=options)
    try:
        driver.get(html.resolve().as_uri())
        height = int(driver.execute_script("return document.body.scrollHeight"))
        driver.set_window_size(width, height + 40)
        driver.save_screenshot(str(png))
    finally:
        driver.quit()
    return png


if __name__ == "__main__":
    print(screenshot(Path(sys.argv[1]), Path(sys.argv[2])))
