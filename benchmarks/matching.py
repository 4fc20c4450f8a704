"""How well typed answers are read, without the NLU: each typed answer goes through the engine at
its onboarding step or survey question, and what the engine stored is compared with what the person
meant.

Each data set is a TSV file (benchmarks/data/typed_answers*.tsv): step, language, region, typed,
expected. `expected` is an option id (several joined by +), an age band (or under/over), a number,
`text` (stored as typed) or `?` (nothing to store: the bot must ask again or offer to skip).

    .venv/bin/python benchmarks/matching.py [--verbose] [files...]

Figures: of the answers that have a value, the share read right, asked again and stored wrong; of
the answers that have none, how many were stored anyway; and the wrong consent or age readings.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.campaigns import read_campaigns  # noqa: E402
from bot.config import load_config  # noqa: E402
from bot.engine.conversation import Context, step  # noqa: E402
from bot.engine.messages import EventType, Inbound, Step  # noqa: E402
from bot.engine.state import ConversationState, Phase  # noqa: E402
from bot.i18n import GettextCatalog  # noqa: E402

DATA = ROOT / "benchmarks" / "data"
DEFAULT_SETS = (DATA / "typed_answers.tsv", DATA / "typed_answers_heldout.tsv")
NOW = datetime(2026, 3, 2, 16, 0, tzinfo=UTC)
CAMPAIGN = "my-city"
# Steps where a wrong reading turns someone away or records consent they did not give.
SENSITIVE = {"age", "consent", "parental"}
NO_VALUE = "?"


@dataclass(frozen=True)
class Case:
    source: str
    line: int
    step: str
    language: str
    region: str
    typed: str
    expected: str


def read_cases(path: Path) -> list[Case]:
    cases = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 5:
            raise SystemExit(f"{path}:{number}: expected 5 tab-separated fields, got {len(fields)}")
        cases.append(Case(path.name, number, *fields))
    return cases


def build_context() -> Context:
    config = load_config(ROOT / "config.yml")
    campaigns = tuple(survey for survey, _ in read_campaigns(config.campaigns, ROOT))
    return Context(community=config.community(), campaigns=campaigns, catalog=GettextCatalog())


def state_for(case: Case, context: Context) -> ConversationState:
    base = ConversationState(language=case.language, last_seen=NOW.isoformat())
    kind, _, city = case.step.partition(":")
    if kind == "age":
        return base.evolve(phase=Phase.AGE)
    if kind == "parental":
        return base.evolve(phase=Phase.PARENTAL, age_band="13-14")
    if kind == "consent":
        return base.evolve(phase=Phase.CONSENT, age_band="15-17")
    if kind == "city":
        return base.evolve(phase=Phase.CITY, age_band="15-17")
    if kind == "neighbourhood":
        return base.evolve(phase=Phase.NEIGHBOURHOOD, age_band="15-17", city=city)
    survey = next(s for s in context.campaigns if s.id == CAMPAIGN)
    if survey.question(kind) is None:
        raise SystemExit(f"{case.source}:{case.line}: unknown step {case.step!r}")
    return base.evolve(phase=Phase.SURVEY, age_band="15-17", city="lyon", campaign=survey.id,
                       campaign_version=survey.version, question=kind)


def reading(case: Case, result: Step) -> str:
    """What the engine stored for this step, in the data set's notation; `?` when nothing."""
    kind = case.step.partition(":")[0]
    for event in result.events:
        data = event.data
        if kind == "age":
            if event.type is EventType.NOT_ELIGIBLE and data.get("reason") == "age":
                return str(data["age"])
            if event.type is EventType.PROFILE_UPDATED and "age_band" in data:
                return str(data["age_band"])
        elif kind in {"consent", "parental"}:
            if event.type is EventType.CONSENT_GIVEN:
                return "yes"
            if event.type is EventType.CONSENT_REFUSED or (
                    event.type is EventType.NOT_ELIGIBLE and data.get("reason") == "parental_consent"):
                return "no"
        elif kind == "city" and event.type is EventType.PROFILE_UPDATED and "city" in data:
            return str(data["city"])
        elif kind == "neighbourhood" and event.type is EventType.PROFILE_UPDATED \
                and "neighbourhood" in data:
            return str(data["neighbourhood"] or "unsaid")
    if kind == "age" and result.state.age_band is not None and result.state.phase is not Phase.AGE:
        return result.state.age_band
    for answer in result.answers:
        if answer.question_id != kind or answer.skipped or answer.comment:
            continue
        if answer.option_ids is not None:
            return "+".join(answer.option_ids)
        if answer.number is not None:
            return f"{answer.number:g}"
        if answer.text is not None:
            return "text" if answer.text == case.typed.strip() else f"text:{answer.text}"
    return NO_VALUE


def run(paths: list[Path], verbose: bool) -> int:
    context = build_context()
    for path in paths:
        cases = read_cases(path)
        outcomes: Counter[str] = Counter()
        wrong: list[tuple[Case, str]] = []
        for case in cases:
            state = state_for(case, context)
            result = step(context, state, Inbound.text_message(case.typed, NOW, language=case.language))
            got = reading(case, result)
            if case.expected == NO_VALUE:
                outcome = "held" if got == NO_VALUE else "stored_without_value"
            elif got == case.expected:
                outcome = "right"
            elif got == NO_VALUE:
                outcome = "asked_again"
            else:
                outcome = "wrong"
            outcomes[outcome] += 1
            if outcome in {"wrong", "stored_without_value"}:
                wrong.append((case, got))
            if verbose and outcome != "right" and outcome != "held":
                print(f"  {outcome:>20}  {case.step:<24} {case.language} {case.region:<3} "
                      f"{case.typed!r} expected {case.expected} got {got}")
        with_value = outcomes["right"] + outcomes["asked_again"] + outcomes["wrong"]
        without = outcomes["held"] + outcomes["stored_without_value"]
        sensitive = [c for c, _ in wrong if c.step.partition(":")[0] in SENSITIVE]
        stored_wrong = outcomes["wrong"] + outcomes["stored_without_value"]
        print(f"{path.name}: {len(cases)} typed answers "
              f"({sum(c.language == 'fr' for c in cases)} fr, {sum(c.language == 'en' for c in cases)} en)")
        print(f"  with a value to store: {with_value}: read right {pct(outcomes['right'], with_value)}, "
              f"asked again {pct(outcomes['asked_again'], with_value)}, "
              f"stored wrong {pct(outcomes['wrong'], with_value)}")
        print(f"  with no value to store: {without}: asked again or offered skip "
              f"{outcomes['held']}, stored anyway {outcomes['stored_without_value']}")
        print(f"  stored wrong, all answers: {stored_wrong} of {len(cases)} "
              f"({pct(stored_wrong, len(cases))}); wrong consent or age readings: {len(sensitive)}")
        for case, got in wrong:
            print(f"  WRONG {case.source}:{case.line} {case.step} {case.typed!r}: "
                  f"expected {case.expected}, stored {got}")
    return 0


def pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "n/a"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="*", type=Path, help="data sets (default: both in benchmarks/data)")
    parser.add_argument("--verbose", "-v", action="store_true", help="list every answer not read right")
    args = parser.parse_args()
    return run(args.files or [p for p in DEFAULT_SETS if p.exists()], args.verbose)


if __name__ == "__main__":
    raise SystemExit(main())
