"""The pure builder on random aggregates: no small count anywhere, no hidden count a subtraction away,
every shown count the true one; and whatever people typed stays text in every rendering."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from digests.builder import CouncilView, build_digest, choose_quotes
from digests.model import Digest, Figure, QuestionKind, QuestionSummary, Quote
from digests.render import render
from storage.reports import CityAggregates, Group

START = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
END = START + timedelta(days=7)
BANDS = ("13-14", "15-17", "18-20")
PLACES = ("vaise", "mermoz")
GROUPS: list[Group] = [(band, place) for band in BANDS for place in (*PLACES, None)]
VIEW = CouncilView("lyon-council", "la ville de Lyon", "Lyon", "fr", 5,
                   tuple((band, band) for band in BANDS), tuple((place, place.title()) for place in PLACES))
DEFINITION: dict[str, Any] = {"title": {"fr": "Ma ville", "en": "My city"}, "questions": [
    {"id": "how", "type": "single_choice", "text": {"fr": "Comment ?", "en": "How?"},
     "options": [{"id": o, "label": {"fr": o.upper(), "en": o}} for o in ("walk", "bike", "bus")]},
    {"id": "what", "type": "multiple_choice", "text": {"fr": "Quoi ?", "en": "What?"},
     "options": [{"id": o, "label": {"fr": o.upper(), "en": o}} for o in ("price", "night", "safety")]},
    {"id": "days", "type": "number", "min": 0, "max": 9, "text": {"fr": "Combien ?", "en": "How many?"}},
    {"id": "idea", "type": "text", "text": {"fr": "Une idée ?", "en": "An idea?"}},
]}
small = st.integers(0, 14) | st.integers(0, 3)


@st.composite
def aggregates(draw: st.DrawFn) -> CityAggregates:
    answered: dict[Any, int] = {}
    options: dict[Any, int] = {}
    numbers: dict[Any, int] = {}
    for group in GROUPS:
        picks = {o: draw(small) for o in ("walk", "bike", "bus")}
        for option, count in picks.items():
            if count:
                options[(("c", "how"), group, option)] = count
        if sum(picks.values()):
            answered[(("c", "how"), group)] = sum(picks.values())
        people = draw(small)
        if people:
            answered[(("c", "what"), group)] = people
            for option in ("price", "night", "safety"):
                chose = draw(st.integers(0, people))
                if chose:
                    options[(("c", "what"), group, option)] = chose
        values = {float(v): draw(small) for v in draw(st.sets(st.integers(0, 9), max_size=4))}
        for value, count in values.items():
            if count:
                numbers[(("c", "days"), group, value)] = count
        if sum(values.values()):
            answered[(("c", "days"), group)] = sum(values.values())
    topics = {(("c", "idea"), topic): draw(small) for topic in ("transport", "safety", None)}
    topics = {key: count for key, count in topics.items() if count}
    participants = {group: draw(small) for group in GROUPS}
    participants = {group: count for group, count in participants.items() if count}
    return CityAggregates("lyon", START, END, participants=sum(participants.values()),
                          participants_by_group=participants, answered=answered, options=options,
                          numbers=numbers, topics=topics,
                          participants_by_campaign={"c": sum(participants.values())},
                          completions={("c", GROUPS[0]): draw(small)})


def figures(digest: Digest) -> list[Figure]:
    found = [digest.participants]
    for breakdown in digest.participants_by:
        found += [group.figure for group in breakdown.groups]
    for campaign in digest.campaigns:
        found += [campaign.participants, campaign.completed]
    for question in digest.questions:
        found += [question.answered, *(row.figure for row in question.rows)]
        for breakdown in question.breakdowns:
            found += [group.figure for group in breakdown.groups]
            found += [cell for cells in breakdown.cells for cell in cells]
    return found


def one_hidden_in_a_sum(question: QuestionSummary) -> list[str]:
    """Sums whose total is shown but exactly one part is hidden: a subtraction gives it away."""
    if question.kind is QuestionKind.MULTIPLE:
        return []
    leaks = []
    if not question.answered.hidden and sum(row.figure.hidden for row in question.rows) == 1:
        leaks.append("distribution")
    for breakdown in question.breakdowns:
        for group, cells in zip(breakdown.groups, breakdown.cells, strict=True):
            if not group.figure.hidden and sum(cell.hidden for cell in cells) == 1:
                leaks.append(f"{breakdown.dimension} {group.key}")
        for column, row in enumerate(question.rows):
            column_cells = [cells[column] for cells in breakdown.cells]
            if not row.figure.hidden and sum(cell.hidden for cell in column_cells) == 1:
                leaks.append(f"{breakdown.dimension} column {row.key}")
        if not question.answered.hidden and sum(group.figure.hidden for group in breakdown.groups) == 1:
            leaks.append(f"{breakdown.dimension} totals")
    return leaks


@settings(max_examples=60, deadline=None)
@given(current=aggregates())
def test_no_small_count_and_no_subtraction_reveals_a_hidden_one(current: CityAggregates) -> None:
    digest = build_digest(VIEW, current, None, {"c": DEFINITION}, start=START, end=END, generated_at=END)
    for figure in figures(digest):
        assert figure.count is None or figure.count == 0 or figure.count >= 5
    for question in digest.questions:
        assert one_hidden_in_a_sum(question) == []
    how = next((q for q in digest.questions if q.question_id == "how"), None)
    if how is not None:
        for row in how.rows:
            true = sum(count for (q, _, option), count in current.options.items()
                       if q[1] == "how" and option == row.key)
            assert row.figure.count in (None, true)
    rendered = render(digest)
    for line in csv.DictReader(io.StringIO(rendered.csv)):
        assert line["count"] == "<5" or int(line["count"]) == 0 or int(line["count"]) >= 5


def test_what_people_typed_stays_text_everywhere() -> None:
    hostile = "<script>alert('x')</script> **gras** [lien](http://example.org) =1+1"
    definition = {"questions": [{"id": "how", "type": "single_choice", "text": {"fr": "<b>Comment</b> ?"},
                                 "options": [{"id": "walk", "label": {"fr": "<img src=x onerror=alert(1)>"}},
                                             {"id": "bus", "label": {"fr": "=HYPERLINK(\"http://x\")"}}]}]}
    group = ("13-14", "vaise")
    current = CityAggregates("lyon", START, END, participants=12, participants_by_group={group: 12},
                             answered={(("c", "how"), group): 12},
                             options={(("c", "how"), group, "walk"): 6, (("c", "how"), group, "bus"): 6},
                             topics={(("c", "idea"), "transport"): 6})
    digest = build_digest(VIEW, current, None, {"c": definition}, start=START, end=END, generated_at=END,
                          quotes=[("transport", hostile)])
    rendered = render(digest)
    for html in (rendered.html_email, rendered.html_file):
        assert "<script" not in html and "<img src=x" not in html and "<b>Comment" not in html
        assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; **gras** [lien](http://example.org)" in html
        assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert hostile in rendered.text
    assert "<img src=x onerror=alert(1)>" in rendered.telegram_text
    rows = list(csv.DictReader(io.StringIO(rendered.csv)))
    assert {row["answer"] for row in rows if row["answer_id"] == "bus"} == {"'=HYPERLINK(\"http://x\")"}


def test_no_answers_gives_a_short_note() -> None:
    empty = CityAggregates("lyon", START, END, participants=0)
    digest = build_digest(VIEW, empty, None, {"c": DEFINITION}, start=START, end=END, generated_at=END)
    rendered = render(digest)
    assert digest.empty and digest.questions == () and rendered.charts == ()
    assert "pas de nouvelles réponses" in rendered.subject
    assert "Aucune nouvelle réponse de jeunes de Lyon pendant cette période." in rendered.text
    assert 'id="no-answers"' in rendered.html_email


def test_changes_compare_shares_with_the_previous_period() -> None:
    group = ("15-17", "vaise")

    def period(walk: int, bus: int) -> CityAggregates:
        return CityAggregates("lyon", START, END, participants=walk + bus,
                              participants_by_group={group: walk + bus},
                              answered={(("c", "how"), group): walk + bus},
                              options={(("c", "how"), group, "walk"): walk,
                                       (("c", "how"), group, "bus"): bus})

    digest = build_digest(VIEW, period(30, 10), period(10, 10), {"c": DEFINITION}, start=START, end=END,
                          generated_at=END)
    (how,) = digest.questions
    changes = {row.key: row.figure.change for row in how.rows}
    assert changes == {"walk": 25.0, "bike": 0.0, "bus": -25.0}
    assert digest.previous_participants == 20
    assert "+25 pts" in render(digest).text and "−25 pts" in render(digest).text


def test_quotes_one_per_topic_only_topics_enough_people_wrote_about() -> None:
    candidates = [("transport", "plus de bus [name]"), ("transport", "le tram"), ("parks", "un parc"),
                  ("safety", "de la lumière"), ("sport", "un city"), ("housing", "moins cher"),
                  ("culture", "une salle"), ("night", "le soir")]
    topics: dict[str | None, int] = {"transport": 30, "parks": 4, "safety": 9, "sport": 12, "housing": 5,
                                     "culture": 7, "night": 6, None: 50}
    quotes = choose_quotes(candidates, topics, 5)
    assert quotes == (Quote("plus de bus [name]", "transports"), Quote("un city", "sport"),
                      Quote("de la lumière", "sécurité"), Quote("une salle", "culture"),
                      Quote("le soir", "night"))
    assert choose_quotes(candidates, topics, 5, "en")[0] == Quote("plus de bus [name]", "transport")
