"""python-telegram-bot 22 against the Telegram Bot API emulator, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from telegram import (
    Bot,
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
)
from telegram.constants import ChatAction, ParseMode
from telegram.error import BadRequest, Conflict, EndPointNotFound, Forbidden, NetworkError, RetryAfter
from telegram.ext import (
    AIORateLimiter,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from tests.support.telegram import (
    SECRET,
    AnyApplication,
    EmulatedBot,
    Emulator,
    Mode,
    TelegramUser,
    free_port,
    running,
    start_emulator,
)

pytestmark = pytest.mark.telegram

CHOICES = {"yes": "Oui", "no": "Non"}
REPOSITORY = Path(__file__).resolve().parents[2]


@dataclass
class Seen:
    """What the bot's handlers saw, for assertions outside PTB's error handling."""

    edits: list[Message | bool] = field(default_factory=list)
    chat_instances: list[str] = field(default_factory=list)
    sent: list[Message] = field(default_factory=list)
    errors: list[object] = field(default_factory=list)


def echo_application(bot: EmulatedBot, seen: Seen, *, rate_limited: bool = False) -> AnyApplication:
    """A tiny survey-like bot: /start asks with inline buttons, a press edits the question."""
    builder = ApplicationBuilder().token(bot.token).base_url(bot.base_url).base_file_url(bot.base_file_url)
    app: AnyApplication = (
        builder.rate_limiter(AIORateLimiter(max_retries=2)).build() if rate_limited else builder.build()
    )

    async def start(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None
        keyboard = [[InlineKeyboardButton(label, callback_data=data)] for data, label in CHOICES.items()]
        sent = await update.message.reply_text(
            "Bonjour ! Tu participes ?", reply_markup=InlineKeyboardMarkup(keyboard)
        )
        seen.sent.append(sent)

    async def choose(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None and query.data is not None
        seen.chat_instances.append(query.chat_instance)
        await query.answer(f"noted {query.data}")
        seen.edits.append(await query.edit_message_text(f"Choix : {CHOICES[query.data]}"))

    async def echo(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.message
        assert message is not None
        if message.sticker is not None:
            reply = f"sticker {message.sticker.emoji}"
        elif message.photo:
            largest = message.photo[-1]
            reply = f"photo {largest.width}x{largest.height} {message.caption}"
        elif message.location is not None:
            reply = f"location {message.location.latitude},{message.location.longitude}"
        else:
            user = message.from_user
            assert user is not None
            reply = f"echo ({user.language_code}): {message.text}"
        seen.sent.append(await message.reply_text(reply))

    async def record_error(_update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        seen.errors.append(context.error)

    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(choose))
    app.add_handler(MessageHandler(~filters.COMMAND, echo))
    app.add_error_handler(record_error)
    return app


def plain_bot(bot: EmulatedBot) -> Bot:
    return Bot(bot.token, base_url=bot.base_url, base_file_url=bot.base_file_url)


async def test_get_me_commands_and_service_methods(
    telegram_bot: EmulatedBot, telegram_user: TelegramUser
) -> None:
    async with plain_bot(telegram_bot) as bot:
        me = await bot.get_me()
        assert me.is_bot
        assert me.id == int(telegram_bot.token.split(":")[0])
        assert me.username == "TestNameBot"

        commands = [BotCommand("start", "Commencer"), BotCommand("stop", "Ne plus recevoir")]
        assert await bot.set_my_commands(commands) is True
        assert await bot.set_my_commands([BotCommand("start", "Start")], language_code="en")
        assert [c.command for c in await bot.get_my_commands()] == ["start", "stop"]
        assert [c.description for c in await bot.get_my_commands(language_code="en")] == ["Start"]
        assert await bot.delete_my_commands() is True
        assert await bot.get_my_commands() == ()
        with pytest.raises(BadRequest, match="Bot_command_invalid"):
            await bot.set_my_commands([BotCommand("Not A Command", "x")])

        assert await bot.send_chat_action(telegram_user.chat_id, ChatAction.TYPING) is True
        assert await bot.delete_webhook(drop_pending_updates=True) is True
        info = await bot.get_webhook_info()
        assert (info.url, info.pending_update_count) == ("", 0)
        with pytest.raises(EndPointNotFound):
            await bot.do_api_request("sendInvoiceToTheMoon")

    methods = [call.method for call in await telegram_bot.calls()]
    assert methods[:3] == ["getMe", "getMe", "setMyCommands"]


@pytest.mark.parametrize("mode", ["polling", "webhook"])
async def test_conversation_with_inline_keyboard(
    mode: Mode, telegram_bot: EmulatedBot, telegram_user: TelegramUser
) -> None:
    seen = Seen()
    async with running(echo_application(telegram_bot, seen), mode):
        await telegram_user.send_command("start")
        question = await telegram_user.next_message()
        assert question.text == "Bonjour ! Tu participes ?"
        assert [b.text for b in question.buttons] == ["Oui", "Non"]

        query_id = await telegram_user.press_button(question, "Oui")
        answer = await telegram_user.wait_for_callback_answer(query_id)
        assert answer.params["text"] == "noted yes"
        edited = await telegram_user.wait_for_edit(question)
        assert edited.text == "Choix : Oui"
        assert edited.keyboard == ()  # an edit that does not repeat the keyboard removes it
        assert [v.method for v in edited.versions] == ["sendMessage", "editMessageText"]

        await telegram_user.send_text("en bus")
        echoed = await telegram_user.next_message()
        assert echoed.text == "echo (fr): en bus"

    assert seen.errors == []
    [edit] = seen.edits
    assert isinstance(edit, Message)
    assert (edit.message_id, edit.text) == (question.message_id, "Choix : Oui")
    assert seen.chat_instances and all(seen.chat_instances)
    # Dates are seconds: milliseconds would put them tens of thousands of years ahead.
    for sent in seen.sent:
        assert abs((sent.date - datetime.now(UTC)).total_seconds()) < 120


async def test_media_from_the_user(telegram_bot: EmulatedBot, telegram_user: TelegramUser) -> None:
    seen = Seen()
    async with running(echo_application(telegram_bot, seen), "polling"):
        await telegram_user.send_sticker("🚲")
        assert (await telegram_user.next_message()).text == "sticker 🚲"
        await telegram_user.send_photo(caption="mon quartier")
        assert (await telegram_user.next_message()).text == "photo 800x600 mon quartier"
        await telegram_user.send_location(45.764, 4.8357)
        assert (await telegram_user.next_message()).text == "location 45.764,4.8357"
    assert seen.errors == []


async def test_two_users_each_see_their_own_chat(telegram_bot: EmulatedBot) -> None:
    camille = telegram_bot.user(first_name="Camille", language_code="fr")
    sam = telegram_bot.user(first_name="Sam", language_code="en")
    async with running(echo_application(telegram_bot, Seen()), "polling"):
        await camille.send_text("salut")
        await sam.send_text("hi")
        assert (await sam.next_message()).text == "echo (en): hi"
        assert (await camille.next_message()).text == "echo (fr): salut"
    assert [m.text for m in await telegram_bot.sent_messages(sam.chat_id)] == ["echo (en): hi"]


async def test_webhook_requests_without_the_secret_token_are_refused(
    telegram_bot: EmulatedBot, telegram_user: TelegramUser
) -> None:
    port = free_port()
    update = {
        "update_id": 1,
        "message": {
            "message_id": 1,
            "date": 0,
            "text": "x",
            "chat": {"id": telegram_user.chat_id, "type": "private"},
        },
    }
    async with (
        running(echo_application(telegram_bot, Seen()), "webhook", port),
        httpx.AsyncClient(trust_env=False) as client,
    ):
        url = f"http://127.0.0.1:{port}/telegram"
        assert (await client.post(url, json=update)).status_code == 403
        wrong = {"X-Telegram-Bot-Api-Secret-Token": "guess"}
        assert (await client.post(url, json=update, headers=wrong)).status_code == 403
        # The emulator's own deliveries carry the token PTB registered with setWebhook.
        await telegram_user.send_text("ok")
        assert (await telegram_user.next_message()).text == "echo (fr): ok"
    assert await telegram_bot.sent_messages(telegram_user.chat_id) != []


async def test_failed_webhook_delivery_is_retried_until_the_bot_is_up(
    telegram_emulator: Emulator, telegram_bot: EmulatedBot, telegram_user: TelegramUser
) -> None:
    port = free_port()  # nothing listens there yet
    async with plain_bot(telegram_bot) as bot:
        assert await bot.set_webhook(f"http://127.0.0.1:{port}/telegram", secret_token=SECRET)
        with pytest.raises(Conflict):
            await bot.get_updates()
        await telegram_user.send_text("toujours là ?")
        deadline = time.monotonic() + 5
        info = await bot.get_webhook_info()
        while info.last_error_message is None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            info = await bot.get_webhook_info()
        assert info.last_error_message is not None
        assert "Connection failed" in info.last_error_message
        assert info.pending_update_count == 1
    assert telegram_emulator.process.poll() is None

    async with running(echo_application(telegram_bot, Seen()), "webhook", port):
        assert (await telegram_user.next_message()).text == "echo (fr): toujours là ?"


async def test_get_updates_honours_offset_and_long_polls(
    telegram_bot: EmulatedBot, telegram_user: TelegramUser
) -> None:
    async def get_updates(client: httpx.AsyncClient, **params: int) -> list[dict[str, Any]]:
        response = await client.post(
            f"{telegram_bot.base_url}{telegram_bot.token}/getUpdates",
            data={k: str(v) for k, v in params.items()},
        )
        body = response.json()
        assert body["ok"], body
        result: list[dict[str, Any]] = body["result"]
        return result

    async with httpx.AsyncClient(trust_env=False, timeout=10) as client:
        await telegram_user.send_text("un")
        [first] = await get_updates(client)
        assert first["message"]["text"] == "un"
        # Not confirmed yet: returned again, as Telegram does.
        assert [u["update_id"] for u in await get_updates(client)] == [first["update_id"]]
        assert await get_updates(client, offset=first["update_id"] + 1) == []
        assert await get_updates(client) == []  # confirmed updates are forgotten

        started = time.monotonic()
        assert await get_updates(client, timeout=1) == []
        assert time.monotonic() - started >= 0.9

        waiting = asyncio.create_task(get_updates(client, timeout=5))
        await asyncio.sleep(0.2)
        started = time.monotonic()
        await telegram_user.send_text("deux")
        [second] = await waiting
        assert second["message"]["text"] == "deux"
        assert time.monotonic() - started < 1


async def test_flood_control_makes_the_rate_limiter_wait_and_resend(
    telegram_bot: EmulatedBot, telegram_user: TelegramUser
) -> None:
    await telegram_bot.inject_failure("flood", chat_id=telegram_user.chat_id, retry_after=1)
    async with running(echo_application(telegram_bot, Seen(), rate_limited=True), "polling"):
        await telegram_user.send_text("vite")
        assert (await telegram_user.next_message()).text == "echo (fr): vite"
    refused, accepted = await telegram_bot.calls("sendMessage")
    assert (refused.status, accepted.status) == (429, 200)
    assert accepted.at - refused.at >= 1.0
    assert len(await telegram_user.messages()) == 1


async def test_injected_failures(telegram_bot: EmulatedBot, telegram_user: TelegramUser) -> None:
    chat = telegram_user.chat_id
    async with plain_bot(telegram_bot) as bot:
        await telegram_bot.inject_failure("blocked", chat_id=chat, times=None)
        for _ in range(2):
            with pytest.raises(Forbidden, match="bot was blocked by the user"):
                await bot.send_message(chat, "coucou")
        await telegram_bot.clear_failures()
        await bot.send_message(chat, "coucou")

        await telegram_bot.inject_failure("drop", chat_id=chat)
        with pytest.raises(NetworkError):
            await bot.send_message(chat, "perdu")
        await telegram_bot.inject_failure("bad_gateway", method="answerCallbackQuery")
        with pytest.raises(NetworkError, match="Bad Gateway"):
            await bot.answer_callback_query("1")
        # Another chat is not affected by a chat-specific rule.
        await telegram_bot.inject_failure("blocked", chat_id=chat)
        await bot.send_message(chat + 1, "ailleurs")

    statuses = [call.status for call in await telegram_bot.calls("sendMessage")]
    assert statuses == [403, 403, 200, 0, 200]
    assert [m.text for m in await telegram_user.messages()] == ["coucou"]


async def test_telegram_limits_are_enforced(telegram_bot: EmulatedBot, telegram_user: TelegramUser) -> None:
    chat = telegram_user.chat_id
    async with plain_bot(telegram_bot) as bot:
        with pytest.raises(BadRequest, match="Message is too long"):
            await bot.send_message(chat, "a" * 4097)
        await bot.send_message(chat, "é" * 4096)
        too_long = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="d" * 65)]])
        with pytest.raises(BadRequest, match="Button_data_invalid"):
            await bot.send_message(chat, "question", reply_markup=too_long)
        with pytest.raises(BadRequest, match="Can't parse entities"):
            await bot.send_message(chat, "je <3 mon quartier", parse_mode=ParseMode.HTML)
        html = await bot.send_message(chat, "<b>Q1</b> &lt;3", parse_mode=ParseMode.HTML)
        assert html.text == "Q1 <3"
        with pytest.raises(BadRequest, match="Message is not modified"):
            await bot.edit_message_text("Q1 <3", chat_id=chat, message_id=html.message_id)
        with pytest.raises(BadRequest, match="Message to edit not found"):
            await bot.edit_message_text("x", chat_id=chat, message_id=999_999)
        with pytest.raises(BadRequest, match="Query is too old"):
            await bot.answer_callback_query("424242")
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Oui", callback_data="yes")]])
        asked = await bot.send_message(chat, "Q2", reply_markup=keyboard)
        unmarked = await bot.edit_message_reply_markup(chat, asked.message_id)
        assert isinstance(unmarked, Message)
        assert unmarked.reply_markup is None
        assert await bot.delete_message(chat, asked.message_id) is True

    texts = [m.text for m in await telegram_user.messages()]
    assert texts == ["é" * 4096, "Q1 <3"]


def test_emulator_on_a_given_port_starts_and_stops() -> None:
    port = free_port()
    emulator = start_emulator(port)
    try:
        assert emulator.url == f"http://127.0.0.1:{port}"
        with httpx.Client(trust_env=False) as client:
            me = client.get(f"{emulator.url}/bot1:x/getMe").json()
        assert me["result"]["is_bot"] is True
    finally:
        emulator.stop()
    assert emulator.process.returncode == 0


def test_emulator_ends_with_the_process_that_started_it() -> None:
    # Even a SIGKILLed test run must not leave an emulator behind: it watches its stdin.
    script = (
        "from tests.support.telegram import start_emulator\n"
        "emulator = start_emulator()\n"
        "print(emulator.process.pid, emulator.log_path, flush=True)\n"
        "import time; time.sleep(60)\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script], cwd=REPOSITORY, stdout=subprocess.PIPE, text=True
    )
    with parent:
        assert parent.stdout is not None
        pid, log_path = parent.stdout.readline().split()
        emulator_pid = int(pid)
        parent.kill()
        parent.wait()
    Path(log_path).unlink()
    deadline = time.monotonic() + 5
    while _is_running(emulator_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _is_running(emulator_pid)


def _is_running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"  # an orphan that exited may wait as a zombie for a reaper


async def test_above_the_flood_limit_calls_are_answered_429_with_retry_after(
    telegram_bot: EmulatedBot, telegram_user: TelegramUser
) -> None:
    await telegram_user.send_text("bonjour")
    await telegram_bot.limit_rate(5, retry_after=2)
    bot = Bot(telegram_bot.token, base_url=telegram_bot.base_url)
    async with bot:
        outcomes = []
        for i in range(8):
            try:
                await bot.send_message(telegram_user.chat_id, f"message {i}")
                outcomes.append("sent")
            except RetryAfter as exc:
                outcomes.append(f"wait {exc.retry_after}")
        # Calls without a chat are not counted, as on Telegram.
        assert (await bot.get_me()).is_bot
    # A burst of one second's worth goes through, then 429 until the bucket refills.
    assert outcomes[:5] == ["sent"] * 5
    assert "wait 0:00:02" in outcomes[5:] or "wait 2" in outcomes[5:]
    assert await telegram_bot.refused_by_limit() == len(outcomes) - outcomes.count("sent")
    await telegram_bot.limit_rate(None)
    async with bot:
        await bot.send_message(telegram_user.chat_id, "free again")
