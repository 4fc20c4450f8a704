"""A digest as an email (HTML with inline charts, plain text, CSV) and as a Telegram message.

Everything a young person wrote, and everything a campaign author wrote, reaches the HTML through
Jinja2's autoescaping, the Telegram text as plain text (no parse mode) and the CSV with formula
characters neutralised: an answer is always shown as the text it is.
"""

from __future__ import annotations

import base64
import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from digests import formatting
from digests.charts import question_chart
from digests.model import Digest, Figure, QuestionKind, Row
from digests.wording import say

TELEGRAM_LIMIT = 4096
CAPTION_LIMIT = 1024

_templates = Environment(loader=PackageLoader("digests", "templates"), autoescape=True,
                         undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


@dataclass(frozen=True)
class Chart:
    key: str
    title: str
    png: bytes

    @property
    def cid(self) -> str:
        return f"chart-{self.key}@youthvoice"


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    # For mail: images referenced by Content-ID.
    html_email: str
    # For a browser or the outbox: images embedded as data URIs.
    html_file: str
    csv: str
    charts: tuple[Chart, ...]
    telegram_text: str
    filename: str


def limits(digest: Digest) -> list[str]:
    language, k = digest.language, digest.min_cell_size
    if digest.participants.hidden:
        sample = say(language, "limit_sample_small", k=k, city=digest.city_name)
    else:
        sample = say(language, "limit_sample", count=formatting.number(digest.participants.count or 0,
                                                                       language), city=digest.city_name)
    found = [sample, say(language, "limit_cells", k=k), say(language, "hidden_explained", k=k),
             say(language, "limit_profile")]
    if any(q.kind is QuestionKind.TEXT for q in digest.questions):
        found.append(say(language, "limit_topics"))
    return found


def subject(digest: Digest) -> str:
    first, last = formatting.period(digest.start, digest.end, digest.language)
    span = f"{first} – {last}"
    key = "subject_empty" if digest.empty else "subject"
    return say(digest.language, key, city=digest.city_name, period=span)


def render(digest: Digest) -> Rendered:
    charts = tuple(Chart(q.key, q.title, question_chart(q, digest.language, digest.min_cell_size))
                   for q in digest.questions)
    by_key = {chart.key: chart for chart in charts}
    title = subject(digest)
    email_html = _html(digest, title, lambda key: f"cid:{by_key[key].cid}")
    file_html = _html(digest, title, lambda key: "data:image/png;base64,"
                      + base64.b64encode(by_key[key].png).decode("ascii"))
    filename = f"{digest.council_id}-{digest.start:%Y-%m-%d}"
    return Rendered(subject=title, text=_text(digest), html_email=email_html, html_file=file_html,
                    csv=_csv(digest), charts=charts, telegram_text=_telegram(digest), filename=filename)


def _helpers(digest: Digest) -> dict[str, Any]:
    language, k = digest.language, digest.min_cell_size
    return {
        "say": lambda key, **values: say(language, key, **values),
        "num": lambda value: formatting.number(value, language),
        "count": lambda figure: formatting.count(figure, language, k),
        "share": lambda figure: formatting.share(figure, language),
        "change": lambda figure: formatting.change(figure, language),
    }


def _html(digest: Digest, title: str, image: Callable[[str], str]) -> str:
    return _templates.get_template("digest.html.j2").render(
        d=digest, subject=title, period=formatting.period(digest.start, digest.end, digest.language),
        limits=limits(digest), image=image, **_helpers(digest))


def _figure_text(figure: Figure, digest: Digest) -> str:
    language = digest.language
    text = formatting.count(figure, language, digest.min_cell_size)
    share = formatting.share(figure, language)
    change = formatting.change(figure, language)
    return text + (f" ({share})" if share else "") + (f" {change}" if change else "")


def _text(digest: Digest) -> str:
    language, k = digest.language, digest.min_cell_size
    first, last = formatting.period(digest.start, digest.end, language)
    lines = [say(language, "heading", city=digest.city_name),
             say(language, "period", start=first, end=last),
             say(language, "for_council", council=digest.council_name), ""]
    if digest.empty:
        lines += [say(language, "empty", city=digest.city_name), ""]
    else:
        lines.append(say(language, "participation").upper())
        if digest.participants.hidden:
            lines.append(say(language, "participants_hidden", k=k))
        else:
            lines.append(say(language, "participants", count=formatting.number(digest.participants.count or 0,
                                                                                 language),
                             answers=formatting.number(digest.answers, language)))
        if digest.previous_participants is not None:
            lines.append(say(language, "participants_change",
                             count=formatting.number(digest.previous_participants, language)))
        for campaign in digest.campaigns:
            lines.append(say(language, "campaign_progress", title=campaign.title,
                             participants=formatting.count(campaign.participants, language, k),
                             completed=formatting.count(campaign.completed, language, k),
                             rate=formatting.share(campaign.completed, language) or "—"))
        for breakdown in digest.participants_by:
            lines.append(f"{say(language, 'by_' + breakdown.dimension)}: " + ", ".join(
                f"{group.label} {_figure_text(group.figure, digest)}" for group in breakdown.groups))
        for question in digest.questions:
            lines += ["", question.title]
            answered = (say(language, "answered_hidden", k=k) if question.answered.hidden
                        else say(language, "answered", count=formatting.number(question.answered.count or 0,
                                                                               language)))
            if question.kind is QuestionKind.MULTIPLE:
                answered += " · " + say(language, "multiple_note")
            if question.median is not None:
                median = formatting.number(question.median, language)
                answered += " · " + say(language, "median", value=median)
            lines.append(answered)
            lines += [f"  - {row.label}: {_figure_text(row.figure, digest)}" for row in question.rows]
            for breakdown in question.breakdowns:
                if len(breakdown.groups) < 2:
                    continue
                lines.append(f"  {say(language, 'by_' + breakdown.dimension)}:")
                for group, cells in zip(breakdown.groups, breakdown.cells, strict=True):
                    parts = ", ".join(f"{row.label} {_figure_text(cell, digest)}"
                                      for row, cell in zip(question.rows, cells, strict=True))
                    size = formatting.count(group.figure, language, k)
                    lines.append(f"    {group.label} ({size}): {parts}")
        if digest.quotes:
            lines += ["", say(language, "quotes").upper()]
            lines += [f"  « {quote.text} » ({quote.topic})" for quote in digest.quotes]
    if digest.reply_reached is not None:
        key = "reply_reached" if digest.reply_reached >= k else "reply_reached_small"
        lines += ["", say(language, key, count=formatting.number(digest.reply_reached, language), k=k)]
    lines += ["", say(language, "limits").upper()]
    lines += [f"  - {limit}" for limit in limits(digest)]
    lines += ["", say(language, "footer", council=digest.council_name)]
    return "\n".join(lines) + "\n"


def _cell(value: str) -> str:
    # A spreadsheet would run a cell starting with one of these as a formula.
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def _csv(digest: Digest) -> str:
    """Every published table, one figure a row; hidden counts are written "<k"."""
    k = digest.min_cell_size
    output = io.StringIO()
    writer = csv.writer(output, lineterminator="\r\n")
    writer.writerow(["section", "campaign", "question", "question_text", "breakdown", "group_id", "group",
                     "answer_id", "answer", "count", "share_percent", "change_points"])

    def figures(figure: Figure) -> list[str]:
        return ["<" + str(k) if figure.count is None else str(figure.count),
                "" if figure.share is None else f"{figure.share * 100:.1f}",
                "" if figure.change is None else f"{figure.change:.1f}"]

    def group(dimension: str, row: Row) -> list[str]:
        return [dimension, _cell(row.key), _cell(row.label)]

    writer.writerow(["participants", "", "", "", "", "", "", "", "", *figures(digest.participants)])
    for breakdown in digest.participants_by:
        for row in breakdown.groups:
            writer.writerow(["participants", "", "", "", *group(breakdown.dimension, row), "", "",
                             *figures(row.figure)])
    for campaign in digest.campaigns:
        for section, figure in (("campaign_participants", campaign.participants),
                                ("campaign_completed", campaign.completed)):
            writer.writerow([section, campaign.campaign_id, "", _cell(campaign.title), "", "", "", "", "",
                             *figures(figure)])
    for question in digest.questions:
        base = [question.campaign_id, question.question_id, _cell(question.title)]
        writer.writerow(["answered", *base, "", "", "", "", "", *figures(question.answered)])
        for row in question.rows:
            writer.writerow(["answers", *base, "", "", "", _cell(row.key), _cell(row.label),
                             *figures(row.figure)])
        for breakdown in question.breakdowns:
            for group_row, cells in zip(breakdown.groups, breakdown.cells, strict=True):
                where = group(breakdown.dimension, group_row)
                writer.writerow(["answered", *base, *where, "", "", *figures(group_row.figure)])
                for row, cell in zip(question.rows, cells, strict=True):
                    writer.writerow(["answers", *base, *where, _cell(row.key), _cell(row.label),
                                     *figures(cell)])
    return output.getvalue()


def _telegram(digest: Digest) -> str:
    """A short text; the charts follow as photos."""
    language, k = digest.language, digest.min_cell_size
    first, last = formatting.period(digest.start, digest.end, language)
    lines = [say(language, "heading", city=digest.city_name),
             say(language, "period", start=first, end=last), ""]
    if digest.empty:
        lines.append(say(language, "empty", city=digest.city_name))
    else:
        if digest.participants.hidden:
            lines.append(say(language, "participants_hidden", k=k))
        else:
            lines.append(say(language, "participants", count=formatting.number(digest.participants.count or 0,
                                                                                 language),
                             answers=formatting.number(digest.answers, language)))
        for question in digest.questions:
            shown = [row for row in question.rows if row.figure.count is not None]
            if not shown:
                continue
            top = max(shown, key=lambda row: row.figure.count or 0)
            lines.append(f"• {question.title} → {top.label} {_figure_text(top.figure, digest)}")
    lines += ["", say(language, "limit_cells", k=k), say(language, "telegram_more")]
    text = "\n".join(lines)
    return text if len(text) <= TELEGRAM_LIMIT else text[:TELEGRAM_LIMIT - 1] + "…"


def email_message(rendered: Rendered, sender: str, recipients: list[str], message_key: str) -> EmailMessage:
    """The MIME message: text and HTML alternatives, charts inline by Content-ID, the CSV attached.

    The Message-ID derives from the council and period, so a copy sent twice after an unlucky
    crash is the same message to the recipients' mail systems.
    """
    message = EmailMessage()
    message["Subject"] = rendered.subject
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = formatdate(localtime=False)
    domain = sender.rsplit("@", 1)[-1].strip("> ") or "youthvoice"
    message["Message-ID"] = f"<digest.{message_key}@{domain}>"
    message.set_content(rendered.text)
    message.add_alternative(rendered.html_email, subtype="html")
    html_part = message.get_body(("html",))
    assert isinstance(html_part, EmailMessage)
    for chart in rendered.charts:
        html_part.add_related(chart.png, "image", "png", cid=f"<{chart.cid}>",
                              filename=f"{chart.key}.png")
    message.add_attachment(rendered.csv, subtype="csv", filename=f"{rendered.filename}.csv")
    return message
