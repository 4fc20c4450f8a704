"""Client for the Rasa server's POST /model/parse, turning its JSON into the engine's Understanding.

The bot must keep talking when the NLU is down, slow or confused: `parse()` then returns None and
never raises. An outage is logged once when it starts and once when it ends, not per message, and
while it lasts the server is probed at most once per `cooldown` seconds so that a hanging server
does not add its timeout to every message.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import Callable
from types import TracebackType
from typing import Self, TypeGuard

import httpx

from bot.engine.understanding import Entity, IntentGuess, Understanding

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 0.8
DEFAULT_COOLDOWN = 5.0
# The intent Rasa's FallbackClassifier reports when no real intent is confident enough.
FALLBACK_INTENT = "nlu_fallback"


class RasaResponseError(ValueError):
    """The server answered something that is not a Rasa parse result."""


def understanding_from_rasa(text: str, payload: object) -> Understanding:
    """Convert Rasa's parse JSON; raise RasaResponseError when it does not have Rasa's shape.

    The fallback verdict becomes `intent=None` and is left out of the ranking, which lists real
    intents only.
    """
    if not isinstance(payload, dict):
        raise RasaResponseError(f"expected a JSON object, got {type(payload).__name__}")
    intent_data = payload.get("intent")
    intent: IntentGuess | None = None
    if intent_data is not None:
        guess = _intent_guess(intent_data)
        if guess is not None and guess.name != FALLBACK_INTENT:
            intent = guess
    ranking_data = payload.get("intent_ranking", [])
    if not isinstance(ranking_data, list):
        raise RasaResponseError("intent_ranking is not a list")
    ranking = tuple(
        guess
        for guess in (_intent_guess(item) for item in ranking_data)
        if guess is not None and guess.name != FALLBACK_INTENT
    )
    entities_data = payload.get("entities", [])
    if not isinstance(entities_data, list):
        raise RasaResponseError("entities is not a list")
    entities = tuple(_entity(item) for item in entities_data)
    return Understanding(text=text, intent=intent, ranking=ranking, entities=entities)


def _intent_guess(data: object) -> IntentGuess | None:
    if not isinstance(data, dict):
        raise RasaResponseError("an intent is not a JSON object")
    name = data.get("name")
    confidence = data.get("confidence")
    if name is None:
        return None
    if not isinstance(name, str) or not _is_probability(confidence):
        raise RasaResponseError(f"malformed intent {data!r}")
    return IntentGuess(name=name, confidence=float(confidence))


def _entity(data: object) -> Entity:
    if not isinstance(data, dict):
        raise RasaResponseError("an entity is not a JSON object")
    name, value, start, end = (data.get(key) for key in ("entity", "value", "start", "end"))
    if not isinstance(name, str) or not isinstance(start, int) or not isinstance(end, int):
        raise RasaResponseError(f"malformed entity {data!r}")
    # Extractors such as Duckling give numbers or objects; the engine compares text.
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise RasaResponseError(f"entity value of unexpected type in {data!r}")
    return Entity(entity=name, value=value if isinstance(value, str) else str(value), start=start, end=end)


def _is_probability(value: object) -> TypeGuard[float]:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and 0.0 <= value <= 1.0
    )


class _Availability:
    """Tracks outages so each is logged once and probed at most once per cooldown."""

    def __init__(self, base_url: str, cooldown: float, clock: Callable[[], float]) -> None:
        self._base_url = base_url
        self._cooldown = cooldown
        self._clock = clock
        self._down_since: float | None = None
        self._last_probe = -math.inf

    @property
    def is_down(self) -> bool:
        return self._down_since is not None

    def should_try(self) -> bool:
        if self._down_since is None:
            return True
        if self._clock() - self._last_probe >= self._cooldown:
            self._last_probe = self._clock()
            return True
        return False

    def failed(self, reason: str) -> None:
        if self._down_since is None:
            self._down_since = self._last_probe = self._clock()
            logger.warning(
                "NLU server at %s unavailable (%s); carrying on without understanding free text",
                self._base_url,
                reason,
            )

    def succeeded(self) -> None:
        if self._down_since is not None:
            logger.info(
                "NLU server at %s is back after %.1f s",
                self._base_url,
                self._clock() - self._down_since,
            )
            self._down_since = None


def _failure_reason(error: Exception) -> str:
    if isinstance(error, httpx.TimeoutException | TimeoutError):
        return "no answer in time"
    if isinstance(error, httpx.HTTPStatusError):
        return f"HTTP {error.response.status_code}"
    if isinstance(error, RasaResponseError):
        return f"unexpected answer: {error}"
    if isinstance(error, ValueError):
        return "answer is not JSON"
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


_EXPECTED_FAILURES = (httpx.HTTPError, TimeoutError, ValueError)


class NluClient:
    """Asynchronous client, for the bot's event loop. Use one per event loop."""

    def __init__(
        self,
        base_url: str,
        timeout: float = DEFAULT_TIMEOUT,
        *,
        cooldown: float = DEFAULT_COOLDOWN,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._availability = _Availability(self.base_url, cooldown, clock)
        self._http = httpx.AsyncClient(
            base_url=self.base_url, timeout=timeout, transport=transport, trust_env=False
        )

    @property
    def is_down(self) -> bool:
        return self._availability.is_down

    async def parse(self, text: str) -> Understanding | None:
        """What Rasa understood of `text`, or None when it cannot say (down, slow, garbage)."""
        if not text.strip() or not self._availability.should_try():
            return None
        try:
            # httpx applies its timeout to each phase; this bounds the whole exchange.
            async with asyncio.timeout(self.timeout):
                response = await self._http.post("/model/parse", json={"text": text})
                response.raise_for_status()
                understanding = understanding_from_rasa(text, response.json())
        except _EXPECTED_FAILURES as error:
            self._availability.failed(_failure_reason(error))
            return None
        self._availability.succeeded()
        return understanding

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()


class SyncNluClient:
    """Blocking client with the same contract, for the command line and evaluation."""

    def __init__(
        self,
        base_url: str,
        timeout: float = DEFAULT_TIMEOUT,
        *,
        cooldown: float = DEFAULT_COOLDOWN,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._availability = _Availability(self.base_url, cooldown, clock)
        self._http = httpx.Client(
            base_url=self.base_url, timeout=timeout, transport=transport, trust_env=False
        )

    @property
    def is_down(self) -> bool:
        return self._availability.is_down

    def parse(self, text: str) -> Understanding | None:
        """What Rasa understood of `text`, or None when it cannot say (down, slow, garbage)."""
        if not text.strip() or not self._availability.should_try():
            return None
        deadline = time.monotonic() + self.timeout
        try:
            # A server trickling bytes could stretch per-phase timeouts; stream and check the clock.
            with self._http.stream("POST", "/model/parse", json={"text": text}) as response:
                response.raise_for_status()
                body = bytearray()
                for chunk in response.iter_bytes():
                    body.extend(chunk)
                    if time.monotonic() > deadline:
                        raise TimeoutError
            understanding = understanding_from_rasa(text, json.loads(bytes(body)))
        except _EXPECTED_FAILURES as error:
            self._availability.failed(_failure_reason(error))
            return None
        self._availability.succeeded()
        return understanding

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
