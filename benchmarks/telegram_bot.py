"""The bot on the Telegram Bot API emulator: bot CPU per turn and round trips per second.

The bot runs as its own process (`youthvoice run`, SQLite, polling or webhook) so that its CPU time
(read from /proc) is its own; this process plays the participants over the emulator. A turn is a
button press and the bot's reply: alternately "On foot" (an answer is stored, the next question
comes) and "Back" (the first question comes again).

For comparison, the same turns against minimal python-telegram-bot bots that do no work of their own:
- "minimal": the same Bot API calls per press (answer the callback, edit the pressed message, send
  the next question) on the same networking (aiohttp): the difference is what YouthVoice costs;
- "minimal-httpx": the same, on python-telegram-bot's default networking (httpx);
- "echo": one call per press (answer the callback), default networking: the cheapest bot possible.

    .venv/bin/python benchmarks/telegram_bot.py [--turns 200] [--batches 5] [--bots youthvoice,minimal]
        [--modes polling,webhook] [--users 1,50]

prints each cell's median and the spread of its batches, then YouthVoice minus "minimal" per cell
(figures and what they are made of: docs/architecture.md, "What a turn costs in bot CPU"). Keep
--turns a multiple of twice the users: each batch then ends on the question it started from.

Under Telegram's flood limit (the emulator answers 429 above 30 calls a second to chats):

    .venv/bin/python benchmarks/telegram_bot.py --measure limit     # turns/s one token sustains
    .venv/bin/python benchmarks/telegram_bot.py --measure latency   # p95 reply, 50 and 200 users, 5 s think
    .venv/bin/python benchmarks/telegram_bot.py --measure kills --kills 100   # updates lost to kill -9
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.telegram import (  # noqa: E402
    SECRET,
    ApiCall,
    BotMessage,
    EmulatedBot,
    TelegramUser,
    free_port,
    start_emulator,
)
from tests.telegram.botprocess import BotProcess  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")
# youthvoice-unmerged: two calls per button answer even while replies queue (--merge-replies never).
VARIANTS = ("youthvoice", "youthvoice-unmerged", "minimal", "minimal-httpx", "echo")
MINIMAL = VARIANTS[2:]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


async def newest_with_buttons(user: TelegramUser, after: int, pause: float) -> BotMessage:
    while True:
        messages = await user.messages()
        fresh = [m for m in messages if m.message_id > after and m.buttons]
        if fresh:
            return fresh[-1]
        # Many users polling fast would load the emulator (and this machine) more than the bot.
        await asyncio.sleep(pause)


async def onboard(user: TelegramUser, pause: float, variant: str) -> BotMessage:
    await user.send_command("start")
    message = await newest_with_buttons(user, 0, pause)
    # The echo bot only ever shows its first question.
    for label in ("18-20", "Yes, I agree", "Lyon", "Vaise") if variant != "echo" else ():
        await user.press_button(message, label)
        message = await newest_with_buttons_or_edit(user, message, pause)
    return message


async def ride(user: TelegramUser, question: BotMessage, turns: int, times: list[float],
               pause: float, variant: str, first: int = 0) -> BotMessage:
    for i in range(first, first + turns):
        label = "On foot" if i % 2 == 0 else "⬅ Back"
        started = time.perf_counter()
        pressed = await user.press_button(question, label)
        if variant == "echo":
            await user.wait_for_callback_answer(pressed, timeout=60)
        else:
            question = await newest_with_buttons_or_edit(user, question, pause)
        times.append(time.perf_counter() - started)
    return question


async def run_mode(mode: str, users_count: int, turns: int, batches: int,
                   variant: str) -> dict[str, float]:
    emulator = start_emulator()
    folder = tempfile.mkdtemp()
    async with emulator.bot() as bot:
        process = start_bot(bot, mode, f"sqlite:///{folder}/bench.db", variant)
        try:
            await asyncio.sleep(3)
            users = [bot.user(first_name=f"U{i}", language_code="en") for i in range(users_count)]
            pause = 0.002 * users_count
            questions = await asyncio.gather(*(onboard(u, pause, variant) for u in users))
            per_turn_cpu: list[float] = []
            rates: list[float] = []
            times: list[float] = []
            per_user = max(2, turns // users_count)
            for _ in range(batches):
                cpu_before = cpu_seconds(process.pid)
                started = time.perf_counter()
                questions = list(await asyncio.gather(
                    *(ride(u, q, per_user, times, pause, variant)
                      for u, q in zip(users, questions, strict=True))))
                elapsed = time.perf_counter() - started
                done = per_user * users_count
                per_turn_cpu.append((cpu_seconds(process.pid) - cpu_before) / done * 1000)
                rates.append(done / elapsed)
            errors = [c for c in await bot.calls() if c.status is not None and c.status >= 400]
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=20)
            emulator.stop()
    return {
        "cpu_ms": statistics.median(per_turn_cpu),
        "cpu_min": min(per_turn_cpu),
        "cpu_max": max(per_turn_cpu),
        "rate": statistics.median(rates),
        "rtt_median_ms": statistics.median(times) * 1000,
        "errors": float(len(errors)),
    }


def start_bot(bot: EmulatedBot, mode: str, database: str, variant: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": bot.token, "TELEGRAM_API_URL": bot.url,
           "TELEGRAM_WEBHOOK_SECRET": SECRET, "DATABASE_URL": database, "PTB_TIMEDELTA": "true"}
    minimal = variant in MINIMAL
    command = ([sys.executable, __file__, "--serve-minimal", variant] if minimal else
               [sys.executable, "-m", "bot.cli", "--config", str(ROOT / "config.yml"), "run", "--no-nlu",
                "--spool", tempfile.mkdtemp(), "--merge-replies",
                "never" if variant == "youthvoice-unmerged" else "busy"])
    if mode == "webhook":
        port = free_port()
        command += (["--webhook", "--port", str(port)] if minimal else
                    ["--webhook", "--listen", "127.0.0.1", "--port", str(port),
                     "--url", f"http://127.0.0.1:{port}/telegram"])
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def serve_minimal(variant: str, mode: str, port: int | None) -> None:
    """A comparison bot: Bot API calls and no work of its own (see the module's docstring)."""
    from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
    from telegram.ext import AIORateLimiter, ApplicationBuilder, CallbackQueryHandler, CommandHandler

    from bot.channels.telegram_http import AiohttpRequest

    labels = [["18-20"], ["Yes, I agree"], ["Lyon"], ["Vaise"], ["On foot", "⬅ Back"]]
    keyboard = InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=label)] for row in labels for label in row])

    async def start(update: Update, _context: object) -> None:
        assert update.effective_chat is not None
        await update.effective_chat.send_message("Question", reply_markup=keyboard)

    async def press(update: Update, _context: object) -> None:
        query = update.callback_query
        assert query is not None and update.effective_chat is not None
        await query.answer()
        if variant == "echo":
            return
        await query.edit_message_text(f"Question\n\n✓ {query.data}")
        await update.effective_chat.send_message("Question", reply_markup=keyboard)

    url = os.environ["TELEGRAM_API_URL"]
    builder = (ApplicationBuilder().token(os.environ["TELEGRAM_BOT_TOKEN"]).base_url(f"{url}/bot")
               .rate_limiter(AIORateLimiter()))
    if variant == "minimal":
        builder = builder.request(AiohttpRequest()).get_updates_request(
            AiohttpRequest(connection_pool_size=1))
    app = builder.build()
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(press))
    if mode == "webhook" and port is not None:
        app.run_webhook(listen="127.0.0.1", port=port, url_path="telegram", secret_token=SECRET,
                        webhook_url=f"http://127.0.0.1:{port}/telegram")
    else:
        app.run_polling()


LIMIT = 30.0


def keyboard_calls_after(calls: list[ApiCall], chat_id: int, moment: float) -> float | None:
    """When the bot showed the next question (a call with buttons) in this chat after ``moment``."""
    for call in calls:
        markup = str(call.params.get("reply_markup") or "")
        if call.at > moment and str(call.params.get("chat_id")) == str(chat_id) \
                and "inline_keyboard" in markup:
            return float(call.at)
    return None


async def run_limit(variant: str, users_count: int, seconds: float) -> dict[str, float]:
    """Users pressing as fast as replies come, the emulator enforcing 30 calls/s: turns per second."""
    emulator = start_emulator()
    folder = tempfile.mkdtemp()
    async with emulator.bot() as bot:
        await bot.limit_rate(LIMIT)
        process = start_bot(bot, "polling", f"sqlite:///{folder}/bench.db", variant)
        try:
            await asyncio.sleep(3)
            users = [bot.user(first_name=f"U{i}", language_code="en") for i in range(users_count)]
            pause = 0.01 * users_count
            questions = await asyncio.gather(*(onboard(u, pause, variant) for u in users))
            done: list[float] = []
            stop = time.perf_counter() + seconds

            async def keep_riding(user: TelegramUser, question: BotMessage) -> None:
                turn = 0
                while time.perf_counter() < stop:
                    question = await ride(user, question, 1, [], pause, variant, turn)
                    done.append(time.perf_counter())
                    turn += 1

            started = time.perf_counter()
            await asyncio.gather(*(keep_riding(u, q) for u, q in zip(users, questions, strict=True)))
            refused = await bot.refused_by_limit()
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=20)
            emulator.stop()
    steady = [t for t in done if t > started + seconds / 3]
    return {"turns_per_s": len(steady) / (max(steady) - (started + seconds / 3)) if steady else 0.0,
            "refused": float(refused)}


async def run_latency(variant: str, users_count: int, think: float, seconds: float) -> dict[str, float]:
    """Each user thinks ``think`` s before every answer; reply time from the emulator's call log."""
    emulator = start_emulator()
    folder = tempfile.mkdtemp()
    rng = random.Random(8)
    async with emulator.bot() as bot:
        await bot.limit_rate(LIMIT)
        process = start_bot(bot, "polling", f"sqlite:///{folder}/bench.db", variant)
        actions: list[tuple[int, float]] = []
        try:
            await asyncio.sleep(3)
            stop = time.time() + seconds

            async def journey(user: TelegramUser) -> None:
                await asyncio.sleep(rng.uniform(0, think * 2))
                actions.append((user.chat_id, time.time()))
                await user.send_command("start")
                question = await newest_with_buttons(user, 0, 0.5)
                labels = ["18-20", "Yes, I agree", "Lyon", "Vaise"]
                turn = 0
                while time.time() < stop:
                    await asyncio.sleep(think * rng.uniform(0.8, 1.2))
                    label = labels[turn] if turn < len(labels) else ("On foot", "⬅ Back")[turn % 2]
                    actions.append((user.chat_id, time.time()))
                    await user.press_button(question, label)
                    question = await newest_with_buttons_or_edit(user, question, 0.5)
                    turn += 1

            users = [bot.user(first_name=f"U{i}", language_code="en") for i in range(users_count)]
            await asyncio.gather(*(journey(u) for u in users))
            calls = await bot.calls()
            refused = await bot.refused_by_limit()
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=20)
            emulator.stop()
    warm = min(t for _, t in actions) + think * 3
    replies = [shown - moment for chat, moment in actions if moment > warm
               for shown in [keyboard_calls_after(calls, chat, moment)] if shown is not None]
    replies.sort()
    return {"p50": statistics.median(replies), "p95": replies[int(len(replies) * 0.95) - 1],
            "turns": float(len(replies)), "refused": float(refused)}


async def newest_with_buttons_or_edit(user: TelegramUser, pressed: BotMessage, pause: float) -> BotMessage:
    """The next question: a new message with buttons, or the pressed one edited into it."""
    while True:
        messages = await user.messages()
        fresh = [m for m in messages if m.message_id > pressed.message_id and m.buttons]
        if fresh:
            return fresh[-1]
        again = next((m for m in messages if m.message_id == pressed.message_id), None)
        if again is not None and len(again.versions) > len(pressed.versions) and again.buttons:
            return again
        await asyncio.sleep(pause)


def asked_twice(messages: list[BotMessage]) -> int:
    """Questions a chat was sent more than once as new messages (a reply sent again after a crash)."""
    from bot.channels.telegram import question_of
    from tests.telegram import test_kill_loop as loop

    asked = [next((i for i, expect in enumerate(loop.ORDER) if expect in question_of(text or "")), None)
             for text in (m.versions[0].text if m.versions else m.text for m in messages)]
    known = [i for i in asked if i is not None]
    return len(known) - len(set(known))


def answers_in(steps: int) -> int:
    """How many stored answers the first ``steps`` steps of the kill loop's script give."""
    from tests.telegram import test_kill_loop as loop

    # A step answers a survey question when the reply to it asks the next one; a toggle is stored
    # with Done, and onboarding (the first five steps) stores no answer.
    return sum(1 for i, (kind, _, _) in enumerate(loop.SCRIPT[:steps]) if i >= 5 and kind != "toggle")


async def run_kills(kills: int, database: str | None, modes: list[str],
                    keep: Path) -> dict[str, float]:
    """Rounds of the kill loop (tests/telegram/test_kill_loop.py) until ``kills`` kill -9s, the rounds
    taking the modes in turn. A round that loses, strands or misorders anything keeps its evidence
    (the bot's log, what each persona saw, every Bot API call, the database if SQLite) in ``keep``."""
    import json
    import shutil

    from sqlalchemy import create_engine, select
    from sqlalchemy.orm import Session

    from storage.db import normalise_url
    from storage.models import Answer, ChannelIdentity
    from tests.telegram import test_kill_loop as loop

    emulator = start_emulator()
    lost = killed = personas_total = unfinished = misordered = rounds = twice = 0
    longest = 0.0
    try:
        while killed < kills:
            mode = modes[rounds % len(modes)]
            rounds += 1
            folder = Path(tempfile.mkdtemp())
            url = database or f"sqlite:///{folder}/bench.db"
            if database is not None:
                from tests.support.postgres import reset_schema
                reset_schema(database)
            async with emulator.bot() as bot:
                process = BotProcess(bot, url, folder,
                                     webhook_port=free_port() if mode == "webhook" else None)
                personas = [loop.Persona(bot.user(first_name=f"P{i}", language_code="en"))
                            for i in range(loop.USERS)]
                busy: list[int] = []
                process.start()
                try:
                    killer = asyncio.create_task(loop.kill_now_and_then(process, personas, bot, busy))
                    results = await asyncio.gather(*(p.run() for p in personas), return_exceptions=True)
                    await killer
                finally:
                    process.stop()
                round_kills = len(process.kills)
                killed += round_kills
                personas_total += len(personas)
                failures = [r for r in results if isinstance(r, BaseException)]
                unfinished += len(failures)
                waits = [done - max(asked, process.last_start_before(done))
                         for p in personas for asked, done in p.waits]
                longest = max([longest, *waits])
                seen = {p.user.chat_id: await p.user.messages() for p in personas}
                out_of_order = [chat for chat, messages in seen.items() if not loop.shown_in_order(messages)]
                misordered += len(out_of_order)
                repeated = sum(asked_twice(messages) for messages in seen.values())
                twice += repeated
                engine = create_engine(normalise_url(url))
                with Session(engine) as session:
                    stored = len(session.execute(select(Answer.id).join(
                        ChannelIdentity, ChannelIdentity.participant_id == Answer.participant_id)).all())
                engine.dispose()
                # Answers given: a persona stuck waiting for a reply gave those before, and the one sent.
                given = sum(answers_in(len(p.waits) + (0 if p.finished else 1)) for p in personas)
                round_lost = given - stored
                lost += round_lost
                if failures or round_lost or out_of_order or repeated:
                    evidence = keep / f"round-{rounds}-{mode}"
                    evidence.mkdir(parents=True, exist_ok=True)
                    shutil.copy(process.log, evidence / "bot.log")
                    if database is None:
                        shutil.copy(folder / "bench.db", evidence / "bench.db")
                    calls = [{"method": c.method, "params": c.params, "at": c.at, "status": c.status}
                             for c in await bot.calls()]
                    state = {"starts": process.starts, "kills": process.kills, "busy": busy,
                             "stuck": [repr(f) for f in failures], "out_of_order": out_of_order,
                             "chats": {chat: [{"id": m.message_id, "versions": [v.text for v in m.versions],
                                               "text": m.text, "buttons": [b.text for b in m.buttons]}
                                              for m in messages] for chat, messages in seen.items()},
                             "waits": {p.user.chat_id: p.waits for p in personas}}
                    (evidence / "emulator.json").write_text(json.dumps({"calls": calls, **state}, indent=1))
                    print(f"  round {rounds} ({mode}): {len(failures)} stuck, {round_lost} answers lost, "
                          f"{len(out_of_order)} out of order, {repeated} questions sent twice; evidence in "
                          f"{evidence}", flush=True)
                    if failures:
                        print(f"  a person got stuck: {failures[0]!r}"[:2000], flush=True)
                shutil.rmtree(folder, ignore_errors=True)
            print(f"  ... round {rounds} ({mode}, {round_kills} kills): {killed} kills so far, "
                  f"{lost} answers lost, {unfinished} people stuck, {misordered} out of order, {twice} "
                  f"questions sent twice, longest wait {longest:.1f} s", flush=True)
    finally:
        emulator.stop()
    return {"kills": float(killed), "lost": float(lost), "stuck": float(unfinished),
            "people": float(personas_total), "longest_wait": longest, "misordered": float(misordered),
            "twice": float(twice)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=200, help="turns per batch")
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--bots", default=",".join(VARIANTS),
                        help=f"which bots to measure, comma-separated (default: {','.join(VARIANTS)})")
    parser.add_argument("--measure", choices=("cpu", "limit", "latency", "kills"), default="cpu")
    parser.add_argument("--users", default=None,
                        help="comma-separated user counts (cpu: 1,50; limit: 60; latency: 50,200)")
    parser.add_argument("--seconds", type=float, default=90.0, help="length of a limit/latency run")
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--database", default=None, help="kills: a PostgreSQL URL (default SQLite)")
    parser.add_argument("--modes", default="polling,webhook",
                        help="cpu: the modes measured; kills: the rounds take these modes in turn "
                             "(default: polling,webhook)")
    parser.add_argument("--keep", type=Path, default=ROOT / "benchmarks" / "kills-evidence",
                        help="kills: where a failed round's log, chats and calls are kept")
    parser.add_argument("--serve-minimal", choices=MINIMAL, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--webhook", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_minimal:
        serve_minimal(args.serve_minimal, "webhook" if args.webhook else "polling", args.port)
        return 0
    variants = [v for v in args.bots.split(",") if v]
    unknown = set(variants) - set(VARIANTS)
    if unknown:
        parser.error(f"unknown bots: {', '.join(sorted(unknown))}")
    if args.measure == "kills":
        modes = [m for m in args.modes.split(",") if m]
        if set(modes) - {"polling", "webhook"}:
            parser.error("--modes takes polling and webhook")
        r = asyncio.run(run_kills(args.kills, args.database, modes, args.keep))
        print(f"kill -9 x{int(r['kills'])} ({'/'.join(modes)}): {int(r['lost'])} answers lost, "
              f"{int(r['stuck'])} of {int(r['people'])} people stuck, {int(r['misordered'])} chats "
              f"with a reply out of order, {int(r['twice'])} questions sent twice, longest reply wait "
              f"after a restart {r['longest_wait']:.1f} s")
        return 0
    if args.measure == "limit":
        print(f"Users pressing as fast as replies come; the emulator answers 429 above {LIMIT:.0f} calls/s")
        for variant in variants:
            for users in [int(u) for u in (args.users or "60").split(",")]:
                r = asyncio.run(run_limit(variant, users, args.seconds))
                print(f"{variant:<14}{users:>6} users {r['turns_per_s']:>7.1f} turns/s "
                      f"{int(r['refused']):>6} x 429")
        return 0
    if args.measure == "latency":
        print(f"Reply time (press -> next question shown), 5 s think time, limit {LIMIT:.0f} calls/s")
        for variant in variants:
            for users in [int(u) for u in (args.users or "50,200").split(",")]:
                r = asyncio.run(run_latency(variant, users, 5.0, args.seconds))
                print(f"{variant:<14}{users:>6} users  p50 {r['p50']:>6.2f} s  p95 {r['p95']:>6.2f} s "
                      f"({int(r['turns'])} turns, {int(r['refused'])} x 429)")
        return 0
    print(f"{args.batches} batches of ~{args.turns} button turns; bot CPU per turn is the median of "
          "the batches' (bot process CPU / turns), then the lowest and highest batch")
    print(f"{'bot':<20}{'mode':<9}{'users':>6}{'bot CPU/turn':>14}{'batches':>16}{'turns/s':>9}"
          f"{'round trip':>12}{'errors':>8}")
    modes = [m for m in args.modes.split(",") if m]
    counts = [int(u) for u in (args.users or "1,50").split(",")]
    figures: dict[tuple[str, str, int], float] = {}
    for variant in variants:
        for mode in modes:
            for users in counts:
                r = asyncio.run(run_mode(mode, users, args.turns, args.batches, variant))
                figures[variant, mode, users] = r["cpu_ms"]
                spread = f"{r['cpu_min']:.2f}-{r['cpu_max']:.2f}"
                print(f"{variant:<20}{mode:<9}{users:>6}"
                      f"{r['cpu_ms']:>11.2f} ms{spread:>16}{r['rate']:>9.1f}{r['rtt_median_ms']:>9.1f} ms"
                      f"{int(r['errors']):>8}", flush=True)
    compared = [v for v in variants if v not in MINIMAL]
    if "minimal" in variants and compared:
        print("\nWhat YouthVoice costs beyond the minimal bot on the same networking (median minus median)")
        for variant in compared:
            for mode in modes:
                for users in counts:
                    extra = figures[variant, mode, users] - figures["minimal", mode, users]
                    print(f"{variant:<20}{mode:<9}{users:>6}{extra:>+11.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
