"""The send budget shared by workers: never faster than the limit together, replies first."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker

from bot.rate_budget import Limits, Priority, RateBudget, budget_key
from storage.db import make_engine, make_sessionmaker, upgrade

LIMITS = Limits(per_second=40.0)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_sessionmaker(engine)


async def shared_the_limit(first: RateBudget, second: RateBudget, sent: list[float],
                           started: float) -> None:
    """Two workers' 120 sends took as long as one budget allows, and never went faster."""
    elapsed = time.monotonic() - started
    await first.aclose()
    await second.aclose()
    assert len(sent) == 120
    # Alone, each would have sent its 60 in 1.5 s; sharing, the 120 take 3 s.
    assert elapsed >= 120 / LIMITS.per_second - 0.1
    # Times are taken when each waiter wakes, so a busy machine can bunch a few together; two
    # budgets that did not share would show twice the rate.
    assert most_in_one_second(sent) <= LIMITS.per_second * 1.1


def most_in_one_second(times: list[float]) -> int:
    times = sorted(times)
    return max(sum(1 for t in times[i:] if t < start + 1.0) for i, start in enumerate(times))


async def send_all(budget: RateBudget, count: int, priority: Priority, log: list[float],
                   chat_id: int | None = None) -> None:
    async def one() -> None:
        await budget.acquire(priority, chat_id)
        log.append(time.monotonic())

    await asyncio.gather(*(one() for _ in range(count)))


async def test_two_workers_together_stay_under_the_limit(sessions: sessionmaker[Session]) -> None:
    # Two budgets on one database stand for two worker processes of the same bot.
    first, second = (RateBudget(sessions, budget_key("123:secret"), LIMITS) for _ in range(2))
    sent: list[float] = []
    started = time.monotonic()
    await asyncio.gather(send_all(first, 60, Priority.REPLY, sent),
                         send_all(second, 60, Priority.REPLY, sent))
    await shared_the_limit(first, second, sent, started)


async def test_replies_go_before_bulk_sends_on_any_worker(sessions: sessionmaker[Session]) -> None:
    broadcaster, replier = (RateBudget(sessions, budget_key("123:secret"), LIMITS) for _ in range(2))
    bulk: list[float] = []
    replies: list[float] = []
    broadcast = asyncio.create_task(send_all(broadcaster, 80, Priority.BULK, bulk))
    await asyncio.sleep(0.3)
    asked = time.monotonic()
    await send_all(replier, 20, Priority.REPLY, replies)
    # 20 replies at 40/s take half a second when nothing else is sent in between.
    assert max(replies) - asked < 20 / LIMITS.per_second + 0.3
    bulk_meanwhile = sum(1 for t in bulk if asked < t < max(replies))
    assert bulk_meanwhile <= LIMITS.block
    await broadcast
    await broadcaster.aclose()
    await replier.aclose()
    assert most_in_one_second(bulk + replies) <= LIMITS.per_second + 1


async def test_one_worker_serves_replies_then_alerts_then_bulk() -> None:
    budget = RateBudget(None, "local", Limits(per_second=20.0))
    order: list[Priority] = []

    async def one(priority: Priority) -> None:
        await budget.acquire(priority)
        order.append(priority)

    # Queued together (bulk first), they are served by priority.
    await asyncio.gather(*(one(p) for p in [Priority.BULK] * 4 + [Priority.ALERT] * 3 + [Priority.REPLY] * 3))
    await budget.aclose()
    assert order == [Priority.REPLY] * 3 + [Priority.ALERT] * 3 + [Priority.BULK] * 4


async def test_a_flood_wait_pauses_every_worker(sessions: sessionmaker[Session]) -> None:
    first, second = (RateBudget(sessions, budget_key("123:secret"), LIMITS) for _ in range(2))
    await first.acquire(Priority.REPLY)
    first.penalise(1.0)
    await asyncio.sleep(0.1)  # the pause reaches the database
    started = time.monotonic()
    await second.acquire(Priority.REPLY)
    await first.acquire(Priority.REPLY)
    assert time.monotonic() - started >= 0.85
    await first.aclose()
    await second.aclose()


async def test_a_group_gets_a_short_burst_then_twenty_a_minute() -> None:
    budget = RateBudget(None, "local", Limits(per_second=100.0, group_per_minute=600.0, group_burst=3))
    sent: list[float] = []
    started = time.monotonic()
    await send_all(budget, 3, Priority.ALERT, sent, chat_id=-100)
    burst = time.monotonic() - started
    await send_all(budget, 2, Priority.ALERT, sent, chat_id=-100)
    await budget.aclose()
    # 600 a minute is one every 0.1 s once the burst of 3 is spent.
    assert burst < 0.1
    assert time.monotonic() - started >= 0.18


async def test_without_the_database_a_worker_paces_itself(tmp_path: object) -> None:
    engine = make_engine("postgresql://nobody@127.0.0.1:1/none")
    budget = RateBudget(make_sessionmaker(engine), "offline", Limits(per_second=50.0))
    sent: list[float] = []
    await send_all(budget, 30, Priority.REPLY, sent)
    await budget.aclose()
    engine.dispose()
    assert len(sent) == 30
    assert max(sent) - min(sent) >= 29 / 50 - 0.05


def count_reservations(engine: Engine) -> list[str]:
    seen: list[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def note(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if statement.lstrip().upper().startswith("UPDATE RATE_BUDGETS"):
            seen.append(statement)

    return seen


async def test_a_reply_of_two_calls_reserves_its_slots_in_one_round_trip(
        engine: Engine, sessions: sessionmaker[Session]) -> None:
    budget = RateBudget(sessions, budget_key("123:secret"), LIMITS)
    await budget.acquire(Priority.REPLY)  # the budget's row exists from now on
    await asyncio.sleep(0.1)
    reservations = count_reservations(engine)
    for _ in range(3):
        await budget.acquire(Priority.REPLY, 7, then=1)
        await budget.acquire(Priority.REPLY, 7)
        await asyncio.sleep(0.2)
    await budget.aclose()
    assert len(reservations) == 3


async def test_a_slot_reserved_for_a_send_that_never_came_is_not_used_later(
        engine: Engine, sessions: sessionmaker[Session]) -> None:
    budget = RateBudget(sessions, budget_key("123:secret"), LIMITS)
    await budget.acquire(Priority.REPLY)  # the budget's row exists from now on
    await asyncio.sleep(0.1)
    reservations = count_reservations(engine)
    await budget.acquire(Priority.REPLY, 7, then=3)
    # The reply was dropped after its first call; its other slots pass unused.
    await asyncio.sleep(0.5)
    await budget.acquire(Priority.REPLY, 7)
    await budget.aclose()
    assert len(reservations) == 2


async def test_two_workers_announcing_whole_replies_stay_under_the_limit(
        sessions: sessionmaker[Session]) -> None:
    first, second = (RateBudget(sessions, budget_key("123:secret"), LIMITS) for _ in range(2))
    sent: list[float] = []

    async def replies(budget: RateBudget, count: int) -> None:
        async def reply(chat_id: int) -> None:
            for then in (2, 1, 0):
                await budget.acquire(Priority.REPLY, chat_id, then=then)
                sent.append(time.monotonic())

        await asyncio.gather(*(reply(chat) for chat in range(count)))

    started = time.monotonic()
    await asyncio.gather(replies(first, 20), replies(second, 20))
    await shared_the_limit(first, second, sent, started)


async def test_two_workers_together_keep_a_group_to_its_pace(sessions: sessionmaker[Session]) -> None:
    # 120 a minute (one every 0.5 s) with bursts of 3, as Telegram's 20 a minute with a short burst.
    limits = Limits(per_second=100.0, group_per_minute=120.0, group_burst=3)
    first, second = (RateBudget(sessions, budget_key("123:secret"), limits) for _ in range(2))
    sent: list[float] = []
    started = time.monotonic()
    await asyncio.gather(send_all(first, 3, Priority.ALERT, sent, chat_id=-100),
                         send_all(second, 3, Priority.ALERT, sent, chat_id=-100))
    await first.aclose()
    await second.aclose()
    # Each worker alone would send its 3 as a burst at once; together one burst of 3 is allowed,
    # the other 3 follow at the group's pace.
    sent.sort()
    assert sent[2] - started < 0.5
    assert sent[-1] - started >= 1.45
    # Another group has its own pace.
    other: list[float] = []
    before = time.monotonic()
    third = RateBudget(sessions, budget_key("123:secret"), limits)
    await send_all(third, 3, Priority.ALERT, other, chat_id=-200)
    await third.aclose()
    assert max(other) - before < 0.5


async def test_slots_reserved_in_a_turns_transaction_serve_its_reply_without_another_round_trip(
        engine: Engine, sessions: sessionmaker[Session]) -> None:
    # Slow enough that a loaded machine cannot make the granted slots pass before they are used.
    limits = Limits(per_second=5.0)
    budget = RateBudget(sessions, budget_key("123:secret"), limits)
    other = RateBudget(sessions, budget_key("123:secret"), limits)
    await budget.acquire(Priority.REPLY)  # the budget's row exists from now on
    await asyncio.sleep(0.1)
    assert budget.prepayable()
    reservations = count_reservations(engine)
    with sessions.begin() as session:
        slots = budget.reserve_in(session, 2)
    assert len(reservations) == 1 and slots[1] - slots[0] == pytest.approx(1 / limits.per_second, abs=1e-3)
    # Committed: another worker's slots come after them.
    with sessions.begin() as session:
        [later] = other.reserve_in(session, 1)
    assert later >= slots[1] + 1 / limits.per_second - 1e-3
    budget.grant(slots)
    await asyncio.sleep(0.05)  # a busy event loop: the granted slots are not "passed" for that
    sent: list[float] = []
    for then in (1, 0):
        await budget.acquire(Priority.REPLY, 7, then=then)
        sent.append(time.time())
    assert len(reservations) == 2
    # The reply's second call kept to its slot.
    assert sent[1] >= slots[1] - 0.01
    await budget.aclose()
    await other.aclose()


async def test_slots_are_reserved_in_turns_only_when_nothing_waits_here(
        sessions: sessionmaker[Session]) -> None:
    # Without the shared budget there is no transaction to reserve in.
    assert not RateBudget(None, budget_key("123:secret"), LIMITS).prepayable()
    budget = RateBudget(sessions, budget_key("123:secret"), LIMITS)
    assert budget.prepayable()
    budget.penalise(0.3)
    assert not budget.prepayable()
    waiting = asyncio.create_task(budget.acquire(Priority.BULK))
    await asyncio.sleep(0.05)
    # A send waits here (behind a flood wait): slots reserved now would serve it, not the reply.
    assert not budget.prepayable()
    await waiting
    await asyncio.sleep(0.05)
    assert budget.prepayable()
    await budget.aclose()
