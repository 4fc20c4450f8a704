"""Two bot processes on one PostgreSQL, behind a load balancer, serving one conversation."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session
from telegram import Bot

from bot.channels.telegram_limits import BudgetLimiter
from bot.rate_budget import Priority, RateBudget, budget_key
from storage.db import make_engine, make_sessionmaker
from storage.models import Answer, ChannelIdentity, HandledMessage
from tests.support.postgres import reset_schema
from tests.support.telegram import SECRET, EmulatedBot, TelegramUser, free_port
from tests.telegram.botprocess import BotProcess
from tests.telegram.test_bot import Chat, onboard

pytestmark = [pytest.mark.telegram, pytest.mark.postgres]
ROOT = Path(__file__).resolve().parents[2]


class RoundRobin(ThreadingHTTPServer):
    """Sends each webhook delivery to the next worker in turn, as a load balancer would."""

    def __init__(self, port: int, backends: list[int]) -> None:
        super().__init__(("127.0.0.1", port), _Forward)
        self.backends = backends
        self.turn = itertools.cycle(range(len(backends)))
        self.served: list[int] = []
        self.lock = threading.Lock()


class _Forward(BaseHTTPRequestHandler):
    server: RoundRobin

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with self.server.lock:
            index = next(self.server.turn)
            self.server.served.append(index)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in {"host", "content-length"}}
        response = httpx.post(f"http://127.0.0.1:{self.server.backends[index]}{self.path}",
                              content=body, headers=headers, trust_env=False, timeout=10)
        self.send_response(response.status_code)
        self.send_header("Content-Length", str(len(response.content)))
        self.end_headers()
        self.wfile.write(response.content)

    def log_message(self, format: str, *args: object) -> None:
        return


def wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"worker exited early:\n{log.read_text(errors='replace')}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"worker on port {port} did not start within {timeout}s")


@pytest.fixture
def shared_database(postgres_url: str) -> str:
    reset_schema(postgres_url)
    return postgres_url


@pytest.fixture
def balancer() -> Iterator[tuple[RoundRobin, list[int]]]:
    backends = [free_port(), free_port()]
    server = RoundRobin(free_port(), backends)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, backends
    server.shutdown()
    server.server_close()


async def test_one_conversation_spread_over_two_workers(
        telegram_bot: EmulatedBot, shared_database: str,
        balancer: tuple[RoundRobin, list[int]], tmp_path: Path) -> None:
    server, backends = balancer
    public_url = f"http://127.0.0.1:{server.server_address[1]}/telegram"
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": telegram_bot.token, "TELEGRAM_WEBHOOK_SECRET": SECRET,
           "TELEGRAM_API_URL": telegram_bot.url, "DATABASE_URL": shared_database}
    workers = []
    logs = [tmp_path / f"worker-{port}.log" for port in backends]
    try:
        for port, log in zip(backends, logs, strict=True):
            with log.open("wb") as output:
                workers.append(subprocess.Popen(
                    [sys.executable, "-m", "bot.cli", "--config", str(ROOT / "config.yml"), "run",
                     "--webhook", "--listen", "127.0.0.1", "--port", str(port), "--url", public_url,
                     "--no-nlu"],
                    cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=output))
        for port, process, log in zip(backends, workers, logs, strict=True):
            wait_for_port(port, process, log)
        user = telegram_bot.user(language_code="en")
        chat = Chat(user)
        await onboard(chat, "en")
        await chat.press("On foot", "What gets in your way")
        await chat.toggle("The cost")
        await chat.press("Done ✔", "during the day")
        await chat.press("4", "And in the evening")
    finally:
        for process in workers:
            process.send_signal(signal.SIGINT)
        for process in workers:
            process.wait(timeout=20)
    assert set(server.served) == {0, 1}, "both workers handled part of the conversation"
    engine = create_engine(shared_database.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with Session(engine) as session:
            [identity] = session.scalars(select(ChannelIdentity)).all()
            answers = {a.question_id: a.option_ids for a in session.scalars(select(Answer))}
            handled = session.scalars(select(HandledMessage)).all()
    finally:
        engine.dispose()
    assert identity.external_id == str(user.chat_id)
    assert answers == {"getting_around": ["walk"], "transport_problem": ["price"], "safety_day": ["4"]}
    assert len(handled) == len(server.served)


BROADCAST = 300
RATE = 30.0


async def test_two_workers_and_a_broadcast_share_one_budget_replies_first(
        telegram_bot: EmulatedBot, shared_database: str,
        balancer: tuple[RoundRobin, list[int]], tmp_path: Path) -> None:
    # Stricter than Telegram: bursts of 5 at most, so a budget spent unevenly would be caught.
    await telegram_bot.limit_rate(RATE, burst=5)
    server, backends = balancer
    public_url = f"http://127.0.0.1:{server.server_address[1]}/telegram"
    workers = [BotProcess(telegram_bot, shared_database, tmp_path / f"worker-{port}", webhook_port=port,
                          public_url=public_url) for port in backends]
    engine = make_engine(shared_database)
    budget = RateBudget(make_sessionmaker(engine), budget_key(telegram_bot.token))
    sender = Bot(telegram_bot.token, base_url=telegram_bot.base_url)
    limiter = BudgetLimiter(budget)
    sent_bulk: list[float] = []

    async def broadcast() -> None:
        # A campaign invitation to many people, through the same budget as the workers' replies.
        async def send(chat_id: int) -> bool:
            await sender.send_message(chat_id, "A new survey is open")
            return True

        async def one(chat_id: int) -> None:
            await limiter.process_request(send, (chat_id,), {}, "sendMessage", {"chat_id": chat_id},
                                          Priority.BULK)
            sent_bulk.append(time.monotonic())

        await asyncio.gather(*(one(900_000 + i) for i in range(BROADCAST)))

    reply_times: list[float] = []

    async def answer(user: TelegramUser) -> None:
        chat = Chat(user)
        await onboard(chat, "en")
        for label, expect in (("On foot", "What gets in your way"), ("⬅ Back", "How do you usually"),
                              ("Bike or scooter", "What gets in your way")):
            started = time.monotonic()
            await chat.press(label, expect)
            reply_times.append(time.monotonic() - started)

    try:
        for worker in workers:
            worker.folder.mkdir()
            worker.start()
        for port, worker in zip(backends, workers, strict=True):
            assert worker.process is not None
            wait_for_port(port, worker.process, worker.log)
        async with sender:
            users = [telegram_bot.user(first_name=f"P{i}", language_code="en") for i in range(8)]
            sending = asyncio.create_task(broadcast())
            began = time.monotonic()
            await asyncio.gather(*(answer(u) for u in users))
            answered = time.monotonic() - began
            await sending
            broadcast_took = time.monotonic() - began
    finally:
        for worker in workers:
            worker.stop()
        await budget.aclose()
        engine.dispose()
    calls = [c for c in await telegram_bot.calls() if "chat_id" in c.params]
    assert await telegram_bot.refused_by_limit() == 0
    assert [c for c in calls if c.status != 200] == []
    times = sorted(c.at for c in calls)
    busiest = max(sum(1 for t in times[i:] if t < start + 1.0) for i, start in enumerate(times))
    # Evenly spaced sends seen through network jitter: 30 a second, give or take a send or two.
    assert busiest <= RATE * 1.1
    assert len(sent_bulk) == BROADCAST
    # The broadcast alone needs 10 s at 30/s; the replies went first and were done long before.
    assert answered < broadcast_took - 2
    reply_times.sort()
    assert reply_times[int(len(reply_times) * 0.95) - 1] < 2.0, reply_times
