"""NluClient against the real Rasa server, a stopped one, a hanging one and one answering garbage."""

from __future__ import annotations

import logging
import time

import pytest

from bot.engine.understanding import Entity, IntentGuess, Understanding
from nlu.client import NluClient, RasaResponseError, SyncNluClient, understanding_from_rasa
from tests.support.rasa import (
    hanging_server,
    rasa_parse_payload,
    stub_rasa,
    training_example,
    unused_url,
)


@pytest.mark.rasa
async def test_parse_through_the_real_server_returns_an_intent(rasa_url: str) -> None:
    text, intent = training_example()
    async with NluClient(rasa_url) as client:
        understanding = await client.parse(text)
    assert understanding is not None
    assert understanding.text == text
    assert understanding.intent is not None
    assert understanding.intent.name == intent
    assert 0.0 < understanding.intent.confidence <= 1.0
    assert understanding.ranking[0] == understanding.intent
    assert all(guess.name != "nlu_fallback" for guess in understanding.ranking)
    assert not client.is_down


@pytest.mark.rasa
def test_sync_client_parses_through_the_real_server(rasa_url: str) -> None:
    text, intent = training_example()
    with SyncNluClient(rasa_url) as client:
        understanding = client.parse(text)
    assert understanding is not None
    assert understanding.intent is not None
    assert understanding.intent.name == intent


async def test_stopped_server_gives_none_at_once_and_logs_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="nlu.client")
    async with NluClient(unused_url(), cooldown=0.0) as client:
        started = time.monotonic()
        results = [await client.parse("stop") for _ in range(5)]
        elapsed = time.monotonic() - started
        assert client.is_down
    assert results == [None] * 5
    assert elapsed < 1.0
    assert len([r for r in caplog.records if r.name == "nlu.client"]) == 1


async def test_hanging_server_gives_none_within_the_timeout() -> None:
    with hanging_server() as url:
        async with NluClient(url, timeout=0.3) as client:
            started = time.monotonic()
            understanding = await client.parse("arrête")
            elapsed = time.monotonic() - started
    assert understanding is None
    assert 0.3 <= elapsed < 0.8


def test_sync_client_gives_none_within_the_timeout_on_a_hanging_server() -> None:
    with hanging_server() as url, SyncNluClient(url, timeout=0.3) as client:
        started = time.monotonic()
        understanding = client.parse("arrête")
        elapsed = time.monotonic() - started
    assert understanding is None
    assert elapsed < 0.8


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (200, b"<html>proxy error</html>"),
        (200, b"[1, 2, 3]"),
        (200, b'{"intent": {"name": "stop", "confidence": "very"}}'),
        (200, b'{"intent": {"name": "stop", "confidence": 1.7}}'),
        (200, b'{"intent": {"name": 3, "confidence": 0.9}}'),
        (200, b'{"intent": null, "entities": {"oops": 1}}'),
        (200, b'{"intent": null, "entities": [{"entity": "x", "value": [1], "start": 0, "end": 1}]}'),
        (500, b'{"status": "failure", "reason": "ParsingError"}'),
        (409, b'{"status": "failure", "reason": "No agent loaded"}'),
    ],
)
async def test_garbage_answers_give_none_without_raising(status: int, body: bytes) -> None:
    with stub_rasa() as stub:
        stub.reply_raw(body, status=status)
        async with NluClient(stub.url) as client:
            assert await client.parse("stop") is None
            assert client.is_down
        assert len(stub.requests) == 1


async def test_outage_is_probed_once_per_cooldown_and_its_end_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="nlu.client")
    now = [100.0]
    with stub_rasa() as stub:
        async with NluClient(stub.url, cooldown=5.0, clock=lambda: now[0]) as client:
            stub.reply_raw(b"garbage")
            assert await client.parse("salut") is None
            stub.reply_json(rasa_parse_payload("salut", "greet", 0.97, [("greet", 0.97)]))
            now[0] += 4.0
            assert await client.parse("salut") is None  # still cooling down: not even sent
            assert len(stub.requests) == 1
            now[0] += 1.0
            understanding = await client.parse("salut")
            assert len(stub.requests) == 2
            assert not client.is_down
    assert understanding is not None
    assert understanding.intent == IntentGuess("greet", 0.97)
    messages = [r.getMessage() for r in caplog.records if r.name == "nlu.client"]
    assert len(messages) == 2
    assert "unavailable" in messages[0]
    assert "is back after 5.0 s" in messages[1]


async def test_blank_text_is_not_sent() -> None:
    with stub_rasa() as stub:
        async with NluClient(stub.url) as client:
            assert await client.parse("   ") is None
        assert stub.requests == []


def test_rasa_json_becomes_an_understanding() -> None:
    payload = rasa_parse_payload(
        "en bus depuis Vaise",
        "topic_transport",
        0.91,
        [("topic_transport", 0.91), ("nlu_fallback", 0.6), ("skip", 0.05)],
        [
            {
                "entity": "neighbourhood",
                "value": "Vaise",
                "start": 14,
                "end": 19,
                "extractor": "DIETClassifier",
            },
            {"entity": "number", "value": 2, "start": 0, "end": 1, "extractor": "DucklingEntityExtractor"},
        ],
    )
    assert understanding_from_rasa("en bus depuis Vaise", payload) == Understanding(
        text="en bus depuis Vaise",
        intent=IntentGuess("topic_transport", 0.91),
        ranking=(IntentGuess("topic_transport", 0.91), IntentGuess("skip", 0.05)),
        entities=(Entity("neighbourhood", "Vaise", 14, 19), Entity("number", "2", 0, 1)),
    )


def test_fallback_and_missing_intent_become_no_intent() -> None:
    fallback = rasa_parse_payload("blorp", "nlu_fallback", 0.6, [("nlu_fallback", 0.6), ("greet", 0.41)])
    understanding = understanding_from_rasa("blorp", fallback)
    assert understanding.intent is None
    assert understanding.ranking == (IntentGuess("greet", 0.41),)
    assert understanding_from_rasa("x", {"intent": {"name": None, "confidence": 0.0}}).intent is None
    assert understanding_from_rasa("x", {"text": "x"}).intent is None


def test_a_payload_of_the_wrong_shape_is_rejected() -> None:
    with pytest.raises(RasaResponseError):
        understanding_from_rasa("x", {"intent_ranking": {"greet": 1.0}})
