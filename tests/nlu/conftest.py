"""One real Rasa server for the whole session: trained once (cached by hash), on a free loopback port."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.rasa import START_TIMEOUT, RasaTestServer, running_rasa


@pytest.fixture(scope="session")
def rasa_server() -> Iterator[RasaTestServer]:
    with running_rasa() as server:
        yield server


@pytest.fixture
def rasa_url(rasa_server: RasaTestServer) -> str:
    """The server's URL once it answers (a test may have killed it to watch it come back)."""
    if not rasa_server.supervisor.wait_ready(START_TIMEOUT):
        pytest.fail(f"the Rasa server did not come back; see {rasa_server.supervisor.log_path}")
    return rasa_server.url
