"""What /mydata shows: everything kept about a participant, their answers themselves included, in
their language, a page at a time."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from bot.engine import callbacks
from bot.engine.conversation import Context
from bot.engine.messages import Choice, Outbound
from bot.engine.survey import Question
from bot.engine.texts import N_, Catalog
from storage.records import ParticipantData

# Answers per message: a page stays well under Telegram's 4096 characters.
PAGE_SIZE = 8
# A long free-text answer is shown cut to this length (it is kept whole).
SHOWN_TEXT = 300
NOTHING_KEPT = N_("We keep nothing about you: you have not taken part, or everything was deleted. "
                  "Send /start to take part.")


class KeptAnswer(Protocol):
    @property
    def campaign_id(self) -> str: ...
    @property
    def question_id(self) -> str: ...
    @property
    def option_ids(self) -> list[str] | None: ...
    @property
    def number(self) -> float | None: ...
    @property
    def text(self) -> str | None: ...
    @property
    def skipped(self) -> bool: ...


def describe_data(data: ParticipantData, answers: Sequence[KeptAnswer], language: str,
                  catalog: Catalog, context: Context, page: int = 1, *,
                  passed_to_staff: Sequence[datetime] = ()) -> Outbound:
    """Page 1: the profile, consents and the first answers; later pages: more answers."""
    def tr(message: str, **values: object) -> str:
        return catalog.gettext(language, message).format(**values)

    pages = max(1, -(-len(answers) // PAGE_SIZE))
    page = min(max(page, 1), pages)
    lines: list[str] = []
    if page == 1:
        lines += _profile(data, language, tr, context)
        days = Counter(moment.date().isoformat() for moment in passed_to_staff)
        for day, count in sorted(days.items()):
            lines.append(tr("- {count} message(s) you sent on {date} passed to a trained safeguarding "
                            "person (without your name or account).", count=count, date=day))
    shown = answers[(page - 1) * PAGE_SIZE:page * PAGE_SIZE]
    if answers:
        if lines:
            lines.append("")
        lines.append(tr("Your answers ({page}/{pages}):", page=page, pages=pages) if pages > 1
                     else tr("Your answers:"))
        lines += [_answer_line(a, language, tr, context) for a in shown]
    elif page == 1:
        lines.append(tr("- No answers yet."))
    lines.append("")
    lines.append(tr("Your chat account is kept apart from your answers. Send /delete to erase "
                    "everything."))
    choices: tuple[Choice, ...] = ()
    if page < pages:
        choices = (Choice(tr("More answers ▶"), callbacks.encode(callbacks.DATA, str(page + 1))),)
    return Outbound("\n".join(lines), choices)


def _profile(data: ParticipantData, language: str, tr: _Tr, context: Context) -> list[str]:
    unset = tr("not given")
    city = context.community.city(data.city)
    place = next((p for p in city.neighbourhoods if p.id == data.neighbourhood), None) if city else None
    lines = [
        tr("Here is everything we keep about you:"),
        tr("- Pseudonymous id: {id}", id=data.participant_id[:8]),
        tr("- Since: {date}", date=data.created_at.date().isoformat()),
        tr("- Language: {language}", language={"fr": "français", "en": "English"}.get(
            data.language or "", unset)),
        tr("- Age band: {band}", band=data.age_band or unset),
        tr("- City: {city}", city=city.name.in_(language) if city else (
            tr("Another city") if data.city else unset)),
        tr("- Neighbourhood: {place}", place=place.name.in_(language) if place else unset),
    ]
    for consent in data.consents:
        kind = tr("Your consent") if consent.kind == "participation" else tr("A parent's consent")
        lines.append(tr("- {kind}, given on {date} (privacy notice v{version})", kind=kind,
                        date=consent.recorded_at.date().isoformat(), version=consent.notice_version))
    if data.stopped_at is not None:
        lines.append(tr("- You stopped messages on {date}.", date=data.stopped_at.date().isoformat()))
    return lines


class _Tr(Protocol):
    def __call__(self, message: str, **values: object) -> str: ...


def _answer_line(answer: KeptAnswer, language: str, tr: _Tr, context: Context) -> str:
    survey = next((s for s in context.campaigns if s.id == answer.campaign_id), None)
    question = survey.question(answer.question_id) if survey else None
    asked = question.text.in_(language) if question else answer.question_id
    return tr("• {question}\n   → {answer}", question=asked,
              answer=_value(answer, question, language, tr))


def _value(answer: KeptAnswer, question: Question | None, language: str, tr: _Tr) -> str:
    parts: list[str] = []
    if answer.skipped:
        parts.append(tr("(skipped)"))
    if answer.option_ids:
        labels = {o.id: o.label.in_(language) for o in question.options} if question else {}
        parts.append(", ".join(labels.get(o, o) for o in answer.option_ids))
    if answer.number is not None:
        parts.append(f"{answer.number:g}")
    if answer.text:
        text = answer.text if len(answer.text) <= SHOWN_TEXT else answer.text[:SHOWN_TEXT] + "…"
        parts.append(tr("“{label}”", label=text))
    return " — ".join(parts) if parts else tr("(skipped)")
