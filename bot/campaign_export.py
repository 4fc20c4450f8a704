"""`youthvoice campaign export`: one row per participant and question, pseudonymous, as CSV or XLSX.

Never a chat id or a name: participants appear under a pseudonym that is stable within the
campaign and differs from one campaign to the next. Free text is exported scrubbed: phone numbers,
e-mail addresses, names and the like replaced by [phone], [email], [name]... (still read it before
sharing). Groups smaller than the minimum size are listed in a notes sheet, so that nobody publishes
a figure about three people.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path

from openpyxl import Workbook

from bot.engine.survey import Survey
from storage.campaign_reports import AnswerRow

COLUMNS = ("participant", "campaign_version", "age_band", "city", "neighbourhood",
           "answered_in", "question_id", "question", "option_ids", "option_labels", "number",
           "text", "text_status", "skipped", "answered_at")
SCRUBBED = "scrubbed"
# A free-text answer whose scrubbed form is missing is left out rather than exported raw.
WITHHELD = "withheld"


def rows_for(answers: Iterable[AnswerRow], versions: Mapping[int, Survey],
             language: str) -> list[list[object]]:
    rows: list[list[object]] = []
    for answer in answers:
        survey = versions.get(answer.campaign_version)
        question = survey.question(answer.question_id) if survey else None
        labels = [o.label.in_(language) for o in (question.options if question else ())
                  if o.id in answer.option_ids]
        rows.append([
            answer.participant, answer.campaign_version, answer.age_band or "", answer.city or "",
            answer.neighbourhood or "", answer.language, answer.question_id,
            question.text.in_(language) if question else "", ";".join(answer.option_ids),
            ";".join(labels), answer.number if answer.number is not None else "",
            answer.scrubbed_text or "",
            (SCRUBBED if answer.scrubbed_text is not None else WITHHELD) if answer.has_text else "",
            "yes" if answer.skipped else "no",
            answer.answered_at.isoformat(timespec="seconds"),
        ])
    return rows


def small_groups(rows: list[list[object]], k: int) -> list[list[object]]:
    """Groups (city, neighbourhood, age band) with fewer than k participants in this export."""
    people: dict[tuple[str, str], set[object]] = defaultdict(set)
    for row in rows:
        participant, band, city, place = row[0], row[2], row[3], row[4]
        people[("city", str(city))].add(participant)
        if place:
            people[("neighbourhood", f"{city}/{place}")].add(participant)
        people[("age band", str(band))].add(participant)
    return [[kind, name, f"< {k}"] for (kind, name), who in sorted(people.items())
            if len(who) < k]


def notes(rows: list[list[object]], k: int) -> list[list[object]]:
    lines: list[list[object]] = [
        ["note", "", ""],
        ["Participants appear under a pseudonym valid for this campaign only.", "", ""],
        ["Free text has phone numbers, e-mail addresses, names and the like replaced by [phone], "
         "[email], [name]... A machine did it: read the text before sharing any of it.", "", ""],
        [f"Groups below have fewer than {k} participants: publish no figure about them.", "", ""],
        ["group", "name", "participants"],
    ]
    return lines + small_groups(rows, k)


def write_csv(path: Path, rows: list[list[object]], k: int) -> list[Path]:
    """The answers, and the notes beside them in `<name>.notes.csv`."""
    notes_path = path.with_suffix(".notes.csv")
    for target, content, header in ((path, rows, list(COLUMNS)), (notes_path, notes(rows, k), None)):
        with target.open("w", encoding="utf-8-sig", newline="") as handle:
            writer = csv.writer(handle)
            if header:
                writer.writerow(header)
            writer.writerows(content)
    return [path, notes_path]


def write_xlsx(path: Path, rows: list[list[object]], k: int) -> list[Path]:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "answers"
    sheet.append(list(COLUMNS))
    for row in rows:
        sheet.append(row)
    sheet.freeze_panes = "A2"
    notes_sheet = book.create_sheet("notes")
    for line in notes(rows, k):
        notes_sheet.append(line)
    book.save(path)
    return [path]
