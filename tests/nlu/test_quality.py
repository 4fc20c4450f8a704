"""The trained model on the held-out set: what `youthvoice nlu eval` reports must stay above target."""

from __future__ import annotations

from pathlib import Path

import pytest

from nlu.client import SyncNluClient
from nlu.evaluation import evaluate, load_examples

pytestmark = pytest.mark.rasa
ROOT = Path(__file__).resolve().parents[2]
MIN_MACRO_F1 = 0.92
MIN_MIXED_ACCURACY = 0.80
REGION_GROUPS = {"europe", "north-america", "west-central-africa", "east-africa"}


def test_held_out_macro_f1_for_each_language_and_region_group(rasa_url: str) -> None:
    examples = load_examples(ROOT / "nlu" / "tests")
    with SyncNluClient(rasa_url, timeout=5.0, cooldown=0.0) as client:
        report = evaluate(examples, client.parse)
    assert set(report.by_language) == {"fr", "en"}
    assert REGION_GROUPS | {"mixed"} <= set(report.by_group)
    scores = {"overall": report.overall.macro_f1} | {
        language: s.macro_f1 for language, s in report.by_language.items()} | {
        group: report.by_group[group].macro_f1 for group in REGION_GROUPS}
    assert all(f1 >= MIN_MACRO_F1 for f1 in scores.values()), scores
    assert report.by_group["mixed"].accuracy >= MIN_MIXED_ACCURACY, report.by_group["mixed"]


def test_the_held_out_set_has_ten_messages_per_intent_per_language() -> None:
    examples = load_examples(ROOT / "nlu" / "tests")
    training = {e.text.casefold() for e in load_examples(ROOT / "nlu" / "data")}
    for language in ("fr", "en"):
        counts: dict[str, int] = {}
        for example in examples:
            if example.language == language:
                counts[example.intent] = counts.get(example.intent, 0) + 1
        assert len(counts) == 26 and min(counts.values()) >= 10, (language, counts)
    assert not [e.text for e in examples if e.text.casefold() in training], "held-out lines leak"
