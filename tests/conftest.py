"""Fixtures shared by the whole suite; servers are started once per session, on loopback only."""

from __future__ import annotations

import os

import pytest

# python-telegram-bot 22 warns on every RetryAfter unless time periods are timedelta; with warnings
# as errors that warning would replace the 429 the bot must see. The bot's entry point opts in too.
os.environ.setdefault("PTB_TIMEDELTA", "true")

from tests.support.postgres import db_url, postgres_url

__all__ = ["db_url", "postgres_url"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true",
                     help="rewrite golden transcripts from what the bot does now")
    parser.addoption("--update-screenshots", action="store_true",
                     help="write the console's screenshots into docs/console/")


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))
