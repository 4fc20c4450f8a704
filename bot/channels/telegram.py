"""Telegram, through python-telegram-bot 22: updates in, the service's replies out.

Updates of one chat are handled one after another (a participant's answers must not overtake each
other); different chats run concurrently. Everything the turn stores is committed before anything is
sent, so a reply that cannot be delivered never loses an answer.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from telegram import (
    BotCommand,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
)
from telegram.constants import ChatType
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    BaseUpdateProcessor,
    ContextTypes,
    TypeHandler,
)

from bot.engine import callbacks
from bot.engine.language import supported_language
from bot.engine.messages import Choice, Inbound, InboundKind, Outbound
from bot.engine.texts import N_, Catalog
from bot.service import ConversationService, Turn

log = logging.getLogger(__name__)

CHANNEL = "telegram"
T = TypeVar("T")

COMMANDS = (
    ("start", N_("Start, or pick up where you left off")),
    ("help", N_("What I can do")),
    ("language", N_("Switch between French and English")),
    ("mydata", N_("What we keep about you")),
    ("privacy", N_("How we protect your answers")),
    ("stop", N_("Stop all messages")),
    ("delete", N_("Erase everything about you")),
)
SORRY = N_("Sorry, something went wrong on our side and your last message was not saved. "
           "Please send it again in a minute.")
# Labels this short fit side by side (the 1-5 scale, yes/no).
SHORT_LABEL = 6


@dataclass(frozen=True)
class Delivery:
    """How hard to try before giving up on one outgoing call."""

    attempts: int = 5
    first_backoff: float = 0.5
    max_backoff: float = 8.0


class ChatOrderedProcessor(BaseUpdateProcessor):
    """Updates of one chat in the order they arrived; different chats concurrently."""

    def __init__(self, max_concurrent_updates: int = 256) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[int, asyncio.Lock] = {}
        self._waiting: dict[int, int] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        chat = update.effective_chat if isinstance(update, Update) else None
        if chat is None:
            await coroutine
            return
        lock = self._locks.setdefault(chat.id, asyncio.Lock())
        self._waiting[chat.id] = self._waiting.get(chat.id, 0) + 1
        try:
            async with lock:
                await coroutine
        finally:
            # Forget idle chats so the table does not grow with every participant ever seen.
            self._waiting[chat.id] -= 1
            if self._waiting[chat.id] == 0:
                del self._waiting[chat.id]
                del self._locks[chat.id]

    async def initialize(self) -> None:
        self._locks.clear()
        self._waiting.clear()

    async def shutdown(self) -> None:
        self._locks.clear()
        self._waiting.clear()


def keyboard(choices: tuple[Choice, ...]) -> InlineKeyboardMarkup | None:
    """Options first (side by side when short, else one per row), controls on the last row."""
    if not choices:
        return None
    controls = [c for c in choices if c.data.rsplit(":", 1)[-1] in
                {callbacks.SKIP, callbacks.BACK, callbacks.DONE}]
    options = [c for c in choices if c not in controls]
    rows: list[list[InlineKeyboardButton]] = []
    buttons = [InlineKeyboardButton(c.label, callback_data=c.data) for c in options]
    if options and all(len(c.label) <= SHORT_LABEL for c in options):
        rows.append(buttons)
    else:
        rows.extend([b] for b in buttons)
    if controls:
        rows.append([InlineKeyboardButton(c.label, callback_data=c.data) for c in controls])
    return InlineKeyboardMarkup(rows)


class TelegramChannel:
    def __init__(self, service: ConversationService, catalog: Catalog,
                 delivery: Delivery | None = None) -> None:
        self.service = service
        self.catalog = catalog
        self.delivery = delivery or Delivery()

    def inbound_for(self, message: Message) -> Inbound:
        now = self.service.clock()
        if message.text is not None:
            return Inbound.text_message(message.text, now)
        return Inbound(InboundKind.UNSUPPORTED, now)

    async def on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = update.effective_chat
        if chat is None or chat.type != ChatType.PRIVATE:
            # Surveys are one-to-one: in groups the bot stays silent rather than expose anyone.
            return
        user = update.effective_user
        interface = user.language_code if user else None
        query = update.callback_query
        if query is not None:
            inbound = Inbound.button(query.data or "", self.service.clock())
        elif update.message is not None:
            inbound = self.inbound_for(update.message)
        elif update.edited_message is not None:
            inbound = Inbound(InboundKind.EDITED, self.service.clock())
        else:
            return
        try:
            turn = await self.service.handle_async(CHANNEL, str(chat.id), inbound,
                                                   message_key=str(update.update_id),
                                                   interface_language=interface)
        except Exception:
            log.exception("turn for chat %s failed; asking the participant to resend", chat.id)
            language = supported_language(interface) or self.service.context.community.default_language
            if query is not None:
                await self.attempt(chat.id, query.answer)
            await self.attempt(chat.id, lambda: context.bot.send_message(
                chat.id, self.catalog.gettext(language, SORRY)))
            return
        if turn.duplicate:
            if query is not None:
                await self.attempt(chat.id, query.answer)
            return
        await self.deliver(context, chat.id, turn, query)

    async def deliver(self, context: ContextTypes.DEFAULT_TYPE, chat_id: int, turn: Turn,
                      query: CallbackQuery | None) -> None:
        pressed = query.message if query is not None and isinstance(query.message, Message) else None
        if query is not None:
            # Always answered, or the participant's app keeps a spinner on the button.
            await self.attempt(chat_id, query.answer)
        replacing = any(m.replace for m in turn.outbound)
        if pressed is not None and turn.acknowledgement and not replacing:
            shown = f"{pressed.text}\n\n✓ {turn.acknowledgement}" if pressed.text else turn.acknowledgement
            await self.attempt(chat_id, lambda: pressed.edit_text(shown, reply_markup=None))
        for message in turn.outbound:
            await self.send(context, chat_id, message, pressed)

    async def send(self, context: ContextTypes.DEFAULT_TYPE, chat_id: int, message: Outbound,
                   pressed: Message | None) -> None:
        markup = keyboard(message.choices)
        if message.replace and pressed is not None:
            await self.attempt(chat_id, lambda: pressed.edit_text(message.text, reply_markup=markup))
        else:
            await self.attempt(chat_id, lambda: context.bot.send_message(chat_id, message.text,
                                                                         reply_markup=markup))

    async def attempt(self, chat_id: int, call: Callable[[], Awaitable[T]]) -> T | None:
        """One Bot API call, retried through flood limits and network trouble; never raises."""
        backoff = self.delivery.first_backoff
        for attempt in range(1, self.delivery.attempts + 1):
            try:
                return await call()
            except Forbidden:
                log.info("chat %s blocked the bot: marking the participant stopped", chat_id)
                await asyncio.to_thread(self.service.mark_stopped, CHANNEL, str(chat_id))
                return None
            except RetryAfter as exc:
                wait = exc.retry_after
                seconds = wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
                log.warning("flood limit for chat %s: waiting %.1f s", chat_id, seconds)
                await asyncio.sleep(seconds)
            except BadRequest as exc:
                if "not modified" not in exc.message.lower():
                    log.error("Telegram refused a call for chat %s: %s", chat_id, exc.message)
                return None
            except NetworkError as exc:
                log.warning("network trouble for chat %s (attempt %d): %s", chat_id, attempt, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.delivery.max_backoff)
            except TelegramError as exc:
                log.error("Telegram error for chat %s: %s", chat_id, exc)
                return None
        log.error("gave up on a call for chat %s after %d attempts", chat_id, self.delivery.attempts)
        return None

    async def shutdown(self, application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        await self.service.aclose()

    async def register_commands(self, application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        """The command menu, in French and English, and in the default language for everyone else."""
        default = self.service.context.community.default_language
        for language_code, language in (("fr", "fr"), ("en", "en"), (None, default)):
            commands = [BotCommand(name, self.catalog.gettext(language, text)) for name, text in COMMANDS]
            await self.attempt(0, functools.partial(application.bot.set_my_commands, commands,
                                                    language_code=language_code))


def build_application(channel: TelegramChannel, token: str, *, base_url: str | None = None,
                      delivery_retries: int = 3) -> Application[Any, Any, Any, Any, Any, Any]:
    builder = (
        ApplicationBuilder()
        .token(token)
        .rate_limiter(AIORateLimiter(max_retries=delivery_retries))
        .concurrent_updates(ChatOrderedProcessor())
        .post_init(channel.register_commands)
        .post_shutdown(channel.shutdown)
    )
    if base_url is not None:
        builder = builder.base_url(f"{base_url.rstrip('/')}/bot").base_file_url(
            f"{base_url.rstrip('/')}/file/bot")
    application = builder.build()
    application.add_handler(TypeHandler(Update, channel.on_update))
    return application
