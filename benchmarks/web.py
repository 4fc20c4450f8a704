"""The console's heaviest pages over 100,000 participants on PostgreSQL, next to the bare SQL behind them.

The data: 100,000 participants of Lyon, each answering the ten questions of surveys/my-city.yml
(1,000,000 answers, options as rows; the same generator as benchmarks/digest.py), the campaign
published by a partner with one invitation per participant, all started, most completed. Measured
through the ASGI application (the whole request: session cookie, catalogue check, queries,
suppression, template), p95 and median of several runs each:

- campaign status (`/campaigns/my-city`, a partner): next to the queries that count its progress
  — progress by city and age band (`storage.campaign_reports.progress_by_group`), the invitation
  queue counts and whether invitations went out (the schedule). The page keeps those figures a few
  seconds (web/status.py) and has them counted again in the background, so the SQL here is what
  the page no longer waits for;
- campaign results (`/council/results/my-city`, a council officer): next to its queries alone —
  the campaign's run, when the kept counts were counted (`storage.result_snapshots`), the highest
  answer id (have answers arrived since?) and the council's answer; the digest built from the kept
  counts is reused while they are current;
- public results (`/results/lyon`, nobody signed in) once the campaign closed: next to the catalogue
  check and when the frozen counts were counted.

It also prints what counting the answers afresh costs (what the results pages did on every request
before their counts were kept) and the first view of each results page, which counts and keeps.

    .venv/bin/python benchmarks/web.py [--participants 100000] [--runs 20]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import update  # noqa: E402
from starlette.testclient import TestClient  # noqa: E402

from benchmarks.digest import NOW, load, rows  # noqa: E402
from bot.app import build_app  # noqa: E402
from bot.campaign_schedule import has_started  # noqa: E402
from bot.channels.telegram import CHANNEL  # noqa: E402
from storage import campaign_reports, council_replies, reports, result_snapshots  # noqa: E402
from storage import campaign_store as store  # noqa: E402
from storage import invitations as queue  # noqa: E402
from storage import staff_repository as staff  # noqa: E402
from storage.invitations import Audience  # noqa: E402
from storage.models import CampaignRun  # noqa: E402
from tests.support.postgres import temporary_postgres  # noqa: E402
from web import accounts, passwords  # noqa: E402
from web.app import build_console, create_app  # noqa: E402
from web.results import BEGINNING  # noqa: E402
from web.settings import WebSettings  # noqa: E402

PASSWORD = "benchmark password 1234"
PARTNER = "maison-des-jeunes"


def with_invitations(batches: Iterator[tuple[str, list[dict[str, Any]]]]
                     ) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """The answers' batches, plus for each participant an invitation sent and a participation."""
    number = 0
    for name, batch in batches:
        yield name, batch
        if name != "participants" or not batch:
            continue
        invitations, started = [], []
        for person in batch:
            number += 1
            sent = NOW - timedelta(days=2)
            invitations.append({
                "id": number, "campaign_id": "my-city", "campaign_version": 1,
                "participant_id": person["id"], "kind": "invitation",
                "status": "sent" if number % 50 else "failed", "due_at": sent, "claimed_by": None,
                "claimed_until": None, "attempts": 1, "created_at": sent, "sent_at": sent,
                "response": "not_now" if number % 40 == 0 else None, "responded_at": None})
            started.append({"participant_id": person["id"], "campaign_id": "my-city",
                            "campaign_version": 1, "started_at": sent})
        yield "invitations", invitations
        yield "participations", started


def timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return (time.perf_counter() - started) * 1000


def interleaved(runs: int, *works: Callable[[], object]) -> list[list[float]]:
    """Each work once per round, in turn: on a shared machine, both see the same load."""
    times: list[list[float]] = [[] for _ in works]
    for _ in range(runs):
        for spent, work in zip(times, works, strict=True):
            spent.append(timed(work))
    return times


def p95(times: list[float]) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def signed_in(client: TestClient, email: str) -> TestClient:
    page = client.get("/login").text
    token = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    response = client.post("/login", data={"email": email, "password": PASSWORD, "csrf": token})
    assert response.status_code == 303, response.text
    return client


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--participants", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    with temporary_postgres("youthvoice_web_bench") as url:
        app = build_app(ROOT / "config.yml", url, clock=lambda: NOW)
        try:
            return measure(app, args.participants, args.runs)
        finally:
            app.close()


def measure(app: Any, participants: int, runs: int) -> int:
    from benchmarks import digest

    # Everyone in Lyon: one city's pages over all of them.
    digest.TABLES.update(_extra_tables())
    survey = app.context.campaigns[0]
    lyon = app.config.city("lyon")
    bands = [band.id for band in app.config.age_bands]
    started = time.perf_counter()
    answers = load(app.engine, with_invitations(
        rows(survey, [("lyon", [place.id for place in lyon.neighbourhoods])], bands, participants)))
    loaded = time.perf_counter() - started
    with app.sessions.begin() as session:
        # The seed campaign, as if its partner had published it and sent the invitations.
        session.execute(update(CampaignRun).where(CampaignRun.campaign_id == "my-city")
                        .values(partner_id=PARTNER, broadcast=True))
        for email, role, partner_id, council_id in (
                ("partner@bench.example", "partner", PARTNER, None),
                ("council@bench.example", "council", None, "lyon-council")):
            link = accounts.add_account(session, app.config, WebSettings("x" * 40), email=email,
                                        name=role, role=role, partner_id=partner_id, council_id=council_id,
                                        language="en", actor="benchmark", now=NOW)
            token = staff.usable_token(session, link.url.rsplit("/", 1)[1], NOW)
            assert token is not None
            staff.use_token(session, token, passwords.hash_password(PASSWORD), NOW)
    console = create_app(build_console(app, WebSettings("bench-secret-" + "k" * 40), lambda: NOW))
    partner = signed_in(TestClient(console, follow_redirects=False), "partner@bench.example")
    council = signed_in(TestClient(console, follow_redirects=False), "council@bench.example")
    anyone = TestClient(console, follow_redirects=False)

    catalogue = app.catalogue.current()
    audience = survey.audience
    audiences = [Audience(city, audience.neighbourhoods, audience.age_bands, audience.languages)
                 for city in audience.cities] if catalogue.runs["my-city"].closed_at is None else []

    def status_queries() -> None:
        with app.sessions() as session:
            campaign_reports.progress_by_group(session, "my-city", audiences, CHANNEL)
            queue.counts(session, "my-city")
            queue.next_due(session, "my-city")
            has_started(session, "my-city")

    def results_queries() -> None:
        # What the page reads: the kept counts, whether answers arrived since, the campaign's
        # definition and the council's answer.
        with app.sessions() as session:
            store.run(session, "my-city")
            result_snapshots.head(session, "lyon", "my-city")
            result_snapshots.answer_mark(session)
            council_replies.reply_for(session, "my-city", "lyon")

    def public_queries() -> None:
        with app.sessions() as session:
            store.runs_signature(session)
            result_snapshots.head(session, "lyon", "my-city")

    def counting_afresh() -> None:
        with app.sessions() as session:
            reports.city_aggregates(session, "lyon", BEGINNING, NOW, ["my-city"])
            reports.campaign_definitions(session, ["my-city"])

    def status_page() -> None:
        response = partner.get("/campaigns/my-city")
        assert response.status_code == 200 and "in the target" in response.text

    def results_page() -> None:
        response = council.get("/council/results/my-city")
        assert response.status_code == 200 and "How do you usually get around town?" in response.text

    def public_page() -> None:
        response = anyone.get("/results/lyon?lang=en")
        assert response.status_code == 200 and "How do you usually get around town?" in response.text

    print(f"PostgreSQL: {participants:,} participants of Lyon, {answers:,} answers, {participants:,} "
          f"invitations; loaded in {loaded:.0f} s")
    counted = [timed(counting_afresh) for _ in range(3)]
    print(f"  counting the campaign's answers afresh (what the results pages did on every request; now "
          f"once, then in the background at most once a minute while answers arrive): median "
          f"{statistics.median(counted):.0f} ms of 3")
    started = time.perf_counter()
    results_page()  # the first view counts and keeps the counts
    print(f"  first view of the results page (counts and keeps them): {timed_since(started):.0f} ms")
    started = time.perf_counter()
    status_page()  # the first view counts the progress
    print(f"  first view of the status page (counts the progress): {timed_since(started):.0f} ms")
    compare("campaign status (progress kept, counted again in the background every 5 s at most; "
            "SQL = that counting)", status_page, status_queries, runs)
    compare("campaign results", results_page, results_queries, runs)
    with app.sessions.begin() as session:
        store.close_run(session, "my-city", NOW - timedelta(minutes=1))
    started = time.perf_counter()
    public_page()
    print(f"  first view of the public page once closed (counts unless the kept ones were counted "
          f"after the close, as here): {timed_since(started):.0f} ms")
    compare("public results (phone page, closed campaign)", public_page, public_queries, runs)
    return 0


def timed_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def compare(label: str, page: Callable[[], object], bare: Callable[[], object], runs: int) -> None:
    page()
    bare()
    bare_times, page_times = interleaved(runs, bare, page)
    bare_p95, page_p95 = p95(bare_times), p95(page_times)
    bare_median, page_median = statistics.median(bare_times), statistics.median(page_times)
    print(f"  {label}: page p95 {page_p95:.1f} ms (median {page_median:.1f}), bare SQL p95 "
          f"{bare_p95:.1f} ms (median {bare_median:.1f}), {runs} runs each, interleaved: page / SQL "
          f"{page_p95 / bare_p95:.2f}x at p95, {page_median / bare_median:.2f}x at the median")


def _extra_tables() -> dict[str, Any]:
    from storage.models import Invitation, Participation

    return {"invitations": Invitation, "participations": Participation}


if __name__ == "__main__":
    sys.exit(main())
