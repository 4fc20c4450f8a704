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
"""

from __future__ import annotations

import argparse
import asyncio
import os
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
    BotMessage,
    EmulatedBot,
    TelegramUser,
    free_port,
    start_emulator,
)

TICKS = os.sysconf("SC_CLK_TCK")
VARIANTS = ("youthvoice", "minimal", "minimal-httpx", "echo")


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
        message = await newest_with_buttons(user, message.message_id, pause)
    return message


async def ride(user: TelegramUser, question: BotMessage, turns: int, times: list[float],
               pause: float, variant: str) -> BotMessage:
    for i in range(turns):
        label = "On foot" if i % 2 == 0 else "⬅ Back"
        started = time.perf_counter()
        pressed = await user.press_button(question, label)
        if variant == "echo":
            await user.wait_for_callback_answer(pressed, timeout=60)
        else:
            question = await newest_with_buttons(user, question.message_id, pause)
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
        "rate": statistics.median(rates),
        "rtt_median_ms": statistics.median(times) * 1000,
        "errors": float(len(errors)),
    }


def start_bot(bot: EmulatedBot, mode: str, database: str, variant: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": bot.token, "TELEGRAM_API_URL": bot.url,
           "TELEGRAM_WEBHOOK_SECRET": SECRET, "DATABASE_URL": database, "PTB_TIMEDELTA": "true"}
    minimal = variant != "youthvoice"
    command = ([sys.executable, __file__, "--serve-minimal", variant] if minimal else
               [sys.executable, "-m", "bot.cli", "--config", str(ROOT / "config.yml"), "run", "--no-nlu"])
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=200, help="turns per batch")
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--bots", default=",".join(VARIANTS),
                        help=f"which bots to measure, comma-separated (default: {','.join(VARIANTS)})")
    parser.add_argument("--serve-minimal", choices=VARIANTS[1:], default=None, help=argparse.SUPPRESS)
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
    print(f"{args.batches} batches of ~{args.turns} button turns; bot CPU per turn is the median of "
          "the batches' (bot process CPU / turns)")
    print(f"{'bot':<14}{'mode':<9}{'users':>6}{'bot CPU/turn':>14}{'turns/s':>9}{'round trip':>12}"
          f"{'errors':>8}")
    for variant in variants:
        for mode in ("polling", "webhook"):
            for users in (1, 50):
                r = asyncio.run(run_mode(mode, users, args.turns, args.batches, variant))
                print(f"{variant:<14}{mode:<9}{users:>6}"
                      f"{r['cpu_ms']:>11.2f} ms{r['rate']:>9.1f}{r['rtt_median_ms']:>9.1f} ms"
                      f"{int(r['errors']):>8}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
