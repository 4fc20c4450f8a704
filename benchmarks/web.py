"""The console's heaviest pages over 100,000 participants on PostgreSQL, next to the bare SQL behind them.

The data: 100,000 participants of Lyon, each answering the ten questions of surveys/my-city.yml
(1,000,000 answers, options as rows; the same generator as benchmarks/digest.py), the campaign
published by a partner with one invitation per participant, all started, most completed. Page
time is the application's (the whole request from its arrival to its last byte: session cookie,
catalogue check, queries, suppression, template), p95 and median:

- campaign status (`/campaigns/my-city`, a partner), which counts the progress on every view;
- campaign results (`/council/results/my-city`, a council officer);
- public results (`/results/lyon`, nobody signed in), once the campaign closed;

the results pages both in a view that counts the city's answers (the first one, or the first after
an erasure) and in a view from the counts kept (web/results.py; counted again in the background).
Each page is measured in turn with

- its SQL bare: every statement the page sent to the database during one such view, captured and
  replayed on one connection, rolled back;
- the least page with that SQL: a bare Starlette route sending the same statements through a
  SQLAlchemy session in a worker thread and returning the page's HTML as it is, which shows what
  any page costs beyond its SQL.

    .venv/bin/python benchmarks/web.py [--participants 100000] [--runs 100] [--counting-runs 20]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import event, update  # noqa: E402
from starlette.applications import Starlette  # noqa: E402
from starlette.concurrency import run_in_threadpool  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import HTMLResponse, Response  # noqa: E402
from starlette.routing import Route  # noqa: E402
from starlette.testclient import TestClient  # noqa: E402
from starlette.types import ASGIApp, Receive, Scope, Send  # noqa: E402

from benchmarks.digest import NOW, load, rows  # noqa: E402
from bot.app import build_app  # noqa: E402
from storage import campaign_store as store  # noqa: E402
from storage import result_snapshots as snapshots  # noqa: E402
from storage import staff_repository as staff  # noqa: E402
from storage.models import CampaignRun  # noqa: E402
from tests.support.postgres import temporary_postgres  # noqa: E402
from web import accounts, passwords  # noqa: E402
from web.app import build_console, create_app  # noqa: E402
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


def p95(times: list[float]) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


class InApplication:
    """The application's own time for each request: from its arrival to the response's last byte,
    without the test client's thread and event-loop hand-offs (a server has its own, not these)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.last = 0.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        await self.app(scope, receive, send)
        self.last = (time.perf_counter() - started) * 1000


@dataclass
class View:
    """One page as a reader gets it: the request, and what its answer must contain."""

    client: TestClient
    timer: InApplication
    path: str
    expected: str

    def __call__(self) -> float:
        """Fetches the page; its time in the application."""
        response = self.client.get(self.path)
        assert response.status_code == 200 and self.expected in response.text, response.status_code
        return self.timer.last


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
    # Views that count a city's answers take seconds each at 100,000 participants.
    parser.add_argument("--counting-runs", type=int, default=20)
    args = parser.parse_args()
    with temporary_postgres("youthvoice_web_bench") as url:
        app = build_app(ROOT / "config.yml", url, clock=lambda: NOW)
        try:
            return measure(app, args.participants, args.runs, args.counting_runs)
        finally:
            app.close()


def measure(app: Any, participants: int, runs: int, counting_runs: int) -> int:
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
    timer = InApplication(create_app(build_console(app, WebSettings("bench-secret-" + "k" * 40),
                                                   lambda: NOW)))
    # Each client keeps its event loop thread for all its requests, as a server keeps its loop.
    clients = ExitStack()
    partner, council, anyone = (clients.enter_context(TestClient(timer, follow_redirects=False))
                                for _ in range(3))
    signed_in(partner, "partner@bench.example")
    signed_in(council, "council@bench.example")
    question = "How do you usually get around town?"
    status_page = View(partner, timer, "/campaigns/my-city", "in the target")
    results_page = View(council, timer, "/council/results/my-city", question)
    public_page = View(anyone, timer, "/results/lyon?lang=en", question)
    with clients:

        def page_sql(view: View) -> list[tuple[str, Any]]:
            """Every statement the page sends to the database (session check, catalogue, figures,
            its writes), captured from one view."""
            statements: list[tuple[str, Any]] = []

            def record(_connection: Any, _cursor: Any, statement: str, parameters: Any, _context: Any,
                       _many: bool) -> None:
                # Not the background counts a view may start: the page does not wait for them.
                if not threading.current_thread().name.startswith("results-"):
                    statements.append((statement, parameters))

            event.listen(app.engine, "before_cursor_execute", record)
            try:
                view()
            finally:
                event.remove(app.engine, "before_cursor_execute", record)
            return statements

        def bare(statements: list[tuple[str, Any]]) -> Callable[[], float]:
            """The statements replayed bare on one connection, rolled back."""

            def replay() -> None:
                with app.engine.connect() as connection:
                    for statement, parameters in statements:
                        connection.exec_driver_sql(statement, parameters)
                    connection.rollback()

            return lambda: timed(replay)

        def least_page(statements: list[tuple[str, Any]], body: str) -> tuple[Callable[[], float], ExitStack]:
            """The least any page can cost: a bare Starlette route that sends the same statements
            through a SQLAlchemy session in a worker thread and returns the page's HTML as it is."""

            def run() -> None:
                with app.sessions.begin() as session:
                    connection = session.connection()
                    for statement, parameters in statements:
                        connection.exec_driver_sql(statement, parameters)
                    session.rollback()

            async def route(_request: Request) -> Response:
                await run_in_threadpool(run)
                return HTMLResponse(body)

            least = InApplication(Starlette(routes=[Route("/", route)]))
            stack = ExitStack()
            client = stack.enter_context(TestClient(least))
            return View(client, least, "/", body[:40]), stack

        def compare(label: str, view: View, rounds: int, before: Callable[[], object] | None = None) -> None:
            """The page, its SQL bare and the least page with that SQL, in turn each round: on a
            shared machine all three see the same load. `before` runs untimed before each."""
            # A first view in this state: what the measured views will do (a view after counting
            # afresh keeps the counts, so the next view reads them).
            if before is not None:
                before()
            else:
                view()
            statements = page_sql(view)
            if before is not None:
                before()
            body = view.client.get(view.path).text
            least, stack = least_page(statements, body)
            works: tuple[Callable[[], float], ...] = (bare(statements), view, least)
            times: list[list[float]] = [[] for _ in works]
            with stack:
                for _ in range(rounds):
                    for spent, work in zip(times, works, strict=True):
                        if before is not None:
                            before()
                        spent.append(work())
            sql, page, floor = ((p95(t), statistics.median(t)) for t in times)
            print(f"  {label}: page p95 {page[0]:.1f} ms (median {page[1]:.1f}), its SQL bare p95 "
                  f"{sql[0]:.1f} ms (median {sql[1]:.1f}): page / SQL {page[0] / sql[0]:.2f}x at p95, "
                  f"{page[1] / sql[1]:.2f}x at the median; the least page with that SQL p95 "
                  f"{floor[0]:.1f} ms (median {floor[1]:.1f}), {floor[0] / sql[0]:.2f}x; "
                  f"{len(statements)} statements, {rounds} runs each")

        def counted_afresh() -> None:
            """No results kept: the next results view counts the city's answers while it waits."""
            with app.sessions.begin() as session:
                snapshots.forget_all(session)

        print(f"PostgreSQL: {participants:,} participants of Lyon, {answers:,} answers, {participants:,} "
              f"invitations; loaded in {loaded:.0f} s. Page times are the application's, from the "
              f"request's arrival to its last byte.")
        compare("campaign status (counts the progress on every view)", status_page, runs)
        compare("campaign results, a view that counts (the first, or the first after an erasure)",
                results_page, counting_runs, before=counted_afresh)
        compare("campaign results, from the kept counts", results_page, runs)
        with app.sessions.begin() as session:
            store.close_run(session, "my-city", NOW - timedelta(minutes=1))
        compare("public results (phone page, closed campaign), a view that counts", public_page,
                counting_runs, before=counted_afresh)
        compare("public results, from the kept counts", public_page, runs)
        return 0


def _extra_tables() -> dict[str, Any]:
    from storage.models import Invitation, Participation

    return {"invitations": Invitation, "participations": Participation}


if __name__ == "__main__":
    sys.exit(main())
