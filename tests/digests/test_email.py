"""Digests by email through a real SMTP server: every figure checked against the generated answers."""

from __future__ import annotations

import csv
import html as html_lib
import io
import re
import threading
import time
from collections import Counter
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select

from digests.example import Seeded
from digests.service import BACKOFF, DigestLoop
from storage import campaign_store, digest_store
from storage.models import DigestDelivery
from tests.digests.conftest import Deployment, deploy
from tests.support.smtp import SmtpServer

K = 5


def body(message: EmailMessage, kind: str) -> str:
    part = message.get_body((kind,))
    assert isinstance(part, EmailMessage)
    content = part.get_content()
    assert isinstance(content, str)
    return content


def csv_rows(message: EmailMessage) -> list[dict[str, str]]:
    (attachment,) = [part for part in message.iter_attachments() if part.get_content_type() == "text/csv"]
    content = attachment.get_content()
    assert isinstance(content, str)
    return list(csv.DictReader(io.StringIO(content)))


def truth(seeded: Seeded) -> dict[tuple[str, ...], int]:
    """The counts a digest of these answers should show, by plain counting."""
    people = {person.id: person for person in seeded.people}
    counts: Counter[tuple[str, ...]] = Counter()
    counts[("participants",)] = len({a.participant_id for a in seeded.answers})
    for person_id in {a.participant_id for a in seeded.answers}:
        counts[("participants", "age_band", people[person_id].age_band)] += 1
        counts[("participants", "neighbourhood", people[person_id].neighbourhood)] += 1
    counts[("completed",)] = len(seeded.completions)
    for answer in seeded.answers:
        if answer.skipped:
            continue
        person = people[answer.participant_id]
        where = [("", ""), ("age_band", person.age_band), ("neighbourhood", person.neighbourhood)]
        values = list(answer.option_ids or ())
        if answer.number is not None:
            values = [f"n{answer.number:g}"]
        if answer.text is not None:
            values = [answer.topic or "~"]
        for dimension, group in where:
            if answer.text is None or not dimension:
                counts[("answered", answer.question_id, dimension, group)] += 1
                for value in values:
                    counts[("answers", answer.question_id, dimension, group, value)] += 1
    return counts


def expected(counts: dict[tuple[str, ...], int], row: dict[str, str]) -> int:
    section, question = row["section"], row["question"]
    if section == "participants":
        return counts[("participants", row["breakdown"], row["group_id"])] if row["breakdown"] else counts[
            ("participants",)]
    if section == "campaign_participants":
        return counts[("participants",)]
    if section == "campaign_completed":
        return counts[("completed",)]
    where = (row["breakdown"], row["group_id"])
    if section == "answered":
        return counts[("answered", question, *where)]
    bins = re.fullmatch(r"(\d+)(?:–(\d+))?", row["answer_id"])
    if bins and not any(key[-1] == row["answer_id"] for key in counts if key[:2] == ("answers", question)):
        low, high = int(bins.group(1)), int(bins.group(2) or bins.group(1))
        return sum(count for key, count in counts.items() if key[:4] == ("answers", question, *where)
                   and key[4].startswith("n") and low <= float(key[4][1:]) <= high)
    return counts[("answers", question, *where, row["answer_id"])]


def check_figures(message: EmailMessage, seeded: Seeded) -> int:
    counts = truth(seeded)
    rows = csv_rows(message)
    shown = 0
    for row in rows:
        true = expected(counts, row)
        if row["count"] == f"<{K}":
            continue
        count = int(row["count"])
        assert count == true, row
        assert count == 0 or count >= K, row
        shown += 1
    text, page = body(message, "plain"), html_lib.unescape(re.sub(r"<[^>]+>", " ", body(message, "html")))
    page = re.sub(r"\s+", " ", page)
    for row in rows:
        if row["section"] == "answers" and not row["breakdown"]:
            figure = row["count"].replace("<", "< ")
            assert f"- {row['answer']}: {figure}" in text, row
            assert f"{row['answer']} {figure}" in page, row
    return shown


@pytest.mark.parametrize("council", ["lyon-council", "montreal-council"])
def test_a_council_receives_every_figure_right_by_smtp(deployment: Deployment, smtp: SmtpServer,
                                                       council: str) -> None:
    service = deployment.service
    assert service.queue(deployment.council(council), service.default_period(deployment.council(council)))
    assert service.deliver_due() == 1
    ((recipients, _),) = smtp.mailbox.received
    (message,) = smtp.mailbox.messages()
    assert recipients == deployment.council(council).recipients.email
    seeded = deployment.lyon if council == "lyon-council" else deployment.montreal
    assert check_figures(message, seeded) > 40
    questions = sum(1 for row in csv_rows(message) if row["section"] == "answered" and not row["breakdown"])
    images = [part for part in message.walk() if part.get_content_type() == "image/png"]
    assert len(images) == questions
    page = body(message, "html")
    for image in images:
        assert f'src="cid:{str(image["Content-ID"]).strip("<>")}"' in page
        payload = image.get_payload(decode=True)
        assert isinstance(payload, bytes) and payload.startswith(b"\x89PNG")


def test_a_french_council_reads_french_and_an_english_one_english(deployment: Deployment,
                                                                  smtp: SmtpServer) -> None:
    assert deployment.service.queue_due() == 3
    assert deployment.service.deliver_due() == 3
    by_council = {message["To"].split(",")[0].split("@")[1]: message for message in smtp.mailbox.messages()}
    lyon, montreal, brussels = (by_council["lyon.example"], by_council["montreal.example"],
                                by_council["bruxelles.example"])
    assert lyon["Subject"].startswith("YouthVoice — ce que disent les jeunes de Lyon, 23 novembre 2026")
    assert "jeunes ont répondu" in body(lyon, "plain")
    assert "Comment te déplaces-tu le plus souvent en ville ?" in body(lyon, "plain")
    assert "ce n'est pas un échantillon représentatif" in body(lyon, "plain")
    assert montreal["Subject"].startswith(
        "YouthVoice — what young people in Montreal said, November 23, 2026")
    assert "young people answered" in body(montreal, "plain")
    assert "How do you usually get around town?" in body(montreal, "plain")
    assert "not a representative sample" in body(montreal, "plain")
    # Brussels has no answers this week: a short note, no tables, no charts.
    assert "pas de nouvelles réponses" in brussels["Subject"]
    assert "Aucune nouvelle réponse de jeunes de Bruxelles" in body(brussels, "plain")
    assert not [part for part in brussels.walk() if part.get_content_type() == "image/png"]


def test_numbers_are_written_the_way_each_language_writes_them(tmp_path: Path, db_url: str,
                                                               smtp: SmtpServer) -> None:
    deployed = deploy(db_url, smtp.port, tmp_path, people=140)
    try:
        for council in ("lyon-council", "montreal-council"):
            deployed.service.queue(deployed.council(council), deployed.service.default_period(
                deployed.council(council)))
        deployed.service.deliver_due()
    finally:
        deployed.app.close()
    texts = {m["To"].split("@")[1].split(",")[0]: body(m, "plain") for m in smtp.mailbox.messages()}
    assert re.search(r"140 jeunes ont répondu \(1\u202f\d{3} réponses\)", texts["lyon.example"])
    assert re.search(r"140 young people answered \(1,\d{3} answers\)", texts["montreal.example"])
    assert re.search(r"\(\d+[\u00a0\u202f]%\)", texts["lyon.example"])
    assert re.search(r"\(\d+%\)", texts["montreal.example"])


def test_a_digest_goes_once_even_when_two_workers_run_it(deployment: Deployment, smtp: SmtpServer,
                                                         db_url: str, tmp_path: Path) -> None:
    other = deploy(db_url, smtp.port, tmp_path / "other", people=0)
    try:
        barrier = threading.Barrier(2)

        def work(service_of: Deployment) -> None:
            barrier.wait()
            service_of.service.round()

        threads = [threading.Thread(target=work, args=(d,)) for d in (deployment, other)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        deployment.service.round()
        other.service.round()
    finally:
        other.app.close()
    recipients = sorted(message["To"] for message in smtp.mailbox.messages())
    assert recipients == ["jeunesse@bruxelles.example", "jeunesse@lyon.example",
                          "youth@montreal.example, mayor@montreal.example"]


def test_a_refusing_or_absent_server_keeps_the_digest_queued_until_it_goes_once(
        deployment: Deployment, smtp: SmtpServer) -> None:
    service, lyon = deployment.service, deployment.council("lyon-council")
    smtp.mailbox.refuse = True
    service.queue(lyon, service.default_period(lyon))
    assert service.deliver_due() == 0
    smtp.stop()
    deployment.clock.now += service_backoff(1)
    assert service.deliver_due() == 0
    with deployment.app.sessions() as session:
        (queued,) = session.scalars(select(DigestDelivery)).all()
    assert (queued.status, queued.attempts) == ("queued", 2)
    assert "Connection refused" in (queued.last_error or "") or "refused" in (queued.last_error or "")
    # Not yet due: nothing is tried before the wait is over.
    smtp.mailbox.refuse = False
    smtp.start()
    assert service.deliver_due() == 0
    deployment.clock.now += service_backoff(2)
    assert service.deliver_due() == 1
    deployment.clock.now += service_backoff(4)
    assert service.deliver_due() == 0
    assert service.queue(lyon, service.default_period(lyon)) == []
    assert len(smtp.mailbox.received) == 1
    with deployment.app.sessions() as session:
        (sent,) = session.scalars(select(DigestDelivery)).all()
    assert (sent.status, sent.attempts, sent.sent_at) == ("sent", 2, deployment.clock.now
                                                          - service_backoff(4))


def service_backoff(attempts: int) -> timedelta:
    return BACKOFF[min(attempts, len(BACKOFF)) - 1]


def test_the_bot_s_background_loop_sends_the_weekly_digests(deployment: Deployment,
                                                           smtp: SmtpServer) -> None:
    loop = DigestLoop(deployment.service, every=0.05)
    loop.start()
    try:
        deadline = time.monotonic() + 60
        while len(smtp.mailbox.received) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        loop.stop()
    assert sorted(message["To"] for message in smtp.mailbox.messages()) == [
        "jeunesse@bruxelles.example", "jeunesse@lyon.example",
        "youth@montreal.example, mayor@montreal.example"]


def test_a_campaign_closing_brings_a_digest_to_the_councils_whose_city_answered_it(
        deployment: Deployment, smtp: SmtpServer) -> None:
    service, now = deployment.service, deployment.clock.now
    closed_at = now - timedelta(hours=30)
    with deployment.app.sessions.begin() as session:
        campaign_store.set_run(session, "my-city", 1, None, broadcast=False, now=now - timedelta(days=20))
        campaign_store.close_run(session, "my-city", closed_at)
    assert service.queue_closed_campaigns() == 2
    assert service.queue_closed_campaigns() == 0
    with deployment.app.sessions() as session:
        queued = {(d.council_id, d.period_start, d.period_end) for d in digest_store.deliveries(session)}
    assert queued == {("lyon-council", closed_at - timedelta(days=7), closed_at),
                      ("montreal-council", closed_at - timedelta(days=7), closed_at)}
    # The weekly digests still go as usual (Brussels, where nobody answered, gets its short note).
    assert service.queue_due() == 3
    assert service.deliver_due() == 5
