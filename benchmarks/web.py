"""The console's heaviest pages over 100,000 participants on PostgreSQL, next to the bare SQL behind them.

The data: 100,000 participants of Lyon, each answering the ten questions of surveys/my-city.yml
(1,000,000 answers, options as rows; the same generator as benchmarks/digest.py), the campaign
published by a partner with one invitation per participant, all started, most completed. Measured
through the ASGI application (the whole request: session cookie, catalogue check, queries,
suppression, template), p95 and median of several runs each:

- campaign status (`/campaigns/my-city`, a partner);
- campaign results (`/council/results/my-city`, a council officer);
- public results (`/results/lyon`, nobody signed in), once the campaign closed;

each next to the SQL behind it: every statement the page sent to the database during one view
(session check, catalogue check, figures, its write of the session's last use), captured and
replayed bare on one connection. The pages read kept figures (web/status.py, web/results.py), so
the script also prints what counting them costs (what the pages did on every view before; now in
the background) and the first view of each page, which counts.

    .venv/bin/python benchmarks/web.py [--participants 100000] [--runs 100]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import event, update  # noqa: E402
from starlette.testclient import TestClient  # noqa: E402

from benchmarks.digest import NOW, load, rows  # noqa: E402
from bot.app import build_app  # noqa: E402
from bot.campaign_schedule import has_started  # noqa: E402
from bot.channels.telegram import CHANNEL  # noqa: E402
from storage import campaign_reports, reports  # noqa: E402
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
    # A p95 of 20 runs is the second slowest: 100 make it a percentile on a shared machine.
    parser.add_argument("--runs", type=int, default=100)
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
    # Each client keeps its event loop thread for all its requests, as a server keeps its loop: a
    # client used outside `with` starts a thread and a loop per request (about 4 ms here), which
    # is the harness, not the page.
    clients = ExitStack()
    partner, council, anyone = (clients.enter_context(TestClient(console, follow_redirects=False))
                                for _ in range(3))
    signed_in(partner, "partner@bench.example")
    signed_in(council, "council@bench.example")
    with clients:

        catalogue = app.catalogue.current()
        audience = survey.audience
        audiences = [Audience(city, audience.neighbourhoods, audience.age_bands, audience.languages)
                     for city in audience.cities] if catalogue.runs["my-city"].closed_at is None else []

        def page_sql(page: Callable[[], object]) -> Callable[[], object]:
            """Every statement the page sends to the database (session check, catalogue, figures, its
            own write of the session's last use), captured from one view, to be replayed bare on one
            connection and rolled back."""
            statements: list[tuple[str, Any]] = []

            def record(_connection: Any, _cursor: Any, statement: str, parameters: Any, _context: Any,
                       _many: bool) -> None:
                # Not the background counts a view may start: the page does not wait for them.
                if not threading.current_thread().name.startswith(("status-", "results-")):
                    statements.append((statement, parameters))

            event.listen(app.engine, "before_cursor_execute", record)
            try:
                page()
            finally:
                event.remove(app.engine, "before_cursor_execute", record)

            def replay() -> None:
                with app.engine.connect() as connection:
                    for statement, parameters in statements:
                        connection.exec_driver_sql(statement, parameters)
                    connection.rollback()

            return replay

        def status_queries() -> None:
            with app.sessions() as session:
                campaign_reports.progress_by_group(session, "my-city", audiences, CHANNEL)
                queue.counts(session, "my-city")
                queue.next_due(session, "my-city")
                has_started(session, "my-city")

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
        compare("campaign status", status_page, page_sql(status_page), runs)
        counting = [timed(status_queries) for _ in range(runs)]
        print(f"  counting a campaign's progress (what the status page did on every view; now in the "
              f"background, every 5 s at most while someone watches): p95 {p95(counting):.1f} ms (median "
              f"{statistics.median(counting):.1f}), {runs} runs")
        compare("campaign results", results_page, page_sql(results_page), runs)
        with app.sessions.begin() as session:
            store.close_run(session, "my-city", NOW - timedelta(minutes=1))
        started = time.perf_counter()
        public_page()
        print(f"  first view of the public page once closed (counts unless the kept ones were counted "
              f"after the close, as here): {timed_since(started):.0f} ms")
        compare("public results (phone page, closed campaign)", public_page, page_sql(public_page), runs)
        return 0


def timed_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def compare(label: str, page: Callable[[], object], bare: Callable[[], object], runs: int) -> None:
    page()
    bare()
    bare_times, page_times = interleaved(runs, bare, page)
    bare_p95, page_p95 = p95(bare_times), p95(page_times)
    bare_median, page_median = statistics.median(bare_times), statistics.median(page_times)
    print(f"  {label}: page p95 {page_p95:.1f} ms (median {page_median:.1f}), the same SQL bare p95 "
          f"{bare_p95:.1f} ms (median {bare_median:.1f}), {runs} runs each, interleaved: page / SQL "
          f"{page_p95 / bare_p95:.2f}x at p95, {page_median / bare_median:.2f}x at the median")


def _extra_tables() -> dict[str, Any]:
    from storage.models import Invitation, Participation

    return {"invitations": Invitation, "participations": Participation}


if __name__ == "__main__":
    sys.exit(main())
