"""Which typed messages act as commands: stop and delete need a surer, shorter reading than help."""

from __future__ import annotations

import pytest

from bot.engine.commands import command_in_text
from bot.engine.understanding import IntentGuess, Understanding


def read_as(text: str, intent: str, confidence: float) -> Understanding:
    guess = IntentGuess(intent, confidence)
    return Understanding(text, guess, (guess,))


@pytest.mark.parametrize(("intent", "command"), [("help", "help"), ("skip", "skip"), ("back", "back")])
def test_mild_commands_act_from_0_9(intent: str, command: str) -> None:
    assert command_in_text("euh je comprends pas", read_as("x", intent, 0.85),
                           open_question=False) is None
    assert command_in_text("euh je comprends pas", read_as("x", intent, 0.92),
                           open_question=False) == command


@pytest.mark.parametrize(("intent", "command"), [("stop", "stop"), ("delete_data", "delete")])
def test_destructive_commands_need_0_95(intent: str, command: str) -> None:
    text = "arrêtez de m'écrire svp"
    assert command_in_text(text, read_as(text, intent, 0.93), open_question=False) is None
    assert command_in_text(text, read_as(text, intent, 0.96), open_question=False) == command


def test_a_long_message_is_never_a_destructive_command() -> None:
    text = "franchement j'ai envie que tout s'arrête, le bus, les cours, tout ça me fatigue"
    assert command_in_text(text, read_as(text, "stop", 0.99), open_question=False) is None
    assert command_in_text(text, read_as(text, "help", 0.99), open_question=False) == "help"


def test_exact_command_words_need_no_nlu() -> None:
    assert command_in_text("Arrête !", None, open_question=True) == "stop"
    assert command_in_text("stop le bus", None, open_question=False) is None


def test_on_an_open_question_a_long_message_is_an_answer() -> None:
    text = "je sais pas trop quoi dire sur les bus"
    assert command_in_text(text, read_as(text, "help", 0.95), open_question=True) is None
    assert command_in_text(text, read_as(text, "help", 0.95), open_question=False) == "help"
