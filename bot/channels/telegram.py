"""Telegram, through python-telegram-bot 22: updates in, the service's replies out.

Updates of one chat are handled one after another (a participant's answers must not overtake each
other); different chats run concurrently. Everything the turn stores, its reply included, is committed
before anything is sent: a reply that cannot be delivered now is tried again later (bot/outbox.py),
and never loses the answer it follows.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from telegram import (
    Bot,
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
)
from telegram.constants import ChatType
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    BaseUpdateProcessor,
    ContextTypes,
    TypeHandler,
)

from bot.channels.spool import Spool
from bot.channels.telegram_http import AiohttpRequest
from bot.channels.telegram_limits import BudgetLimiter
from bot.engine import callbacks
from bot.engine.language import supported_language
from bot.engine.messages import Choice, Inbound, InboundKind
from bot.engine.texts import N_, Catalog
from bot.outbox import outbound_of
from bot.rate_budget import RateBudget, budget_key
from bot.service import ConversationService
from storage.errors import StorageUnavailableError
from storage.records import QueuedReply

log = logging.getLogger(__name__)

CHANNEL = "telegram"

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
KEPT = N_("Got it. I can't save answers this very minute, but your message is safe: "
          "I'll reply as soon as I can.")
# Labels this short fit side by side (the 1-5 scale, yes/no).
SHORT_LABEL = 6


@dataclass(frozen=True)
class Delivery:
    """How hard to try at once before the reply waits in the outbox for a later try."""

    attempts: int = 3
    first_backoff: float = 0.5
    max_backoff: float = 8.0
    # How often to look for replies to deliver again, and to clear delivered ones.
    redeliver_every: float = 5.0
    # How often to forget handled-message marks past any redelivery window.
    tidy_every: float = 3600.0


class Outcome(enum.Enum):
    SENT = enum.auto()
    # Telegram refused this call for good (bad request, message gone): retrying cannot help.
    REFUSED = enum.auto()
    # The participant blocked the bot: nothing more goes to them.
    BLOCKED = enum.auto()
    # Still failing after the attempts: worth another try later.
    UNREACHABLE = enum.auto()


class Handled(enum.Enum):
    DONE = enum.auto()
    # The database is still down: keep this update, and those after it, for the next round.
    WAIT = enum.auto()
    # Handling it failed for another reason: kept aside for a person to look at, not retried.
    FAILED = enum.auto()


@dataclass(frozen=True)
class Edit:
    message_id: int
    text: str
    markup: InlineKeyboardMarkup | None
    # A replaced question (multi-choice toggles) is sent anew if its message cannot be edited.
    or_send: bool = False


@dataclass(frozen=True)
class Send:
    text: str
    markup: InlineKeyboardMarkup | None


def actions(payload: dict[str, Any]) -> list[Edit | Send]:
    """The Bot API calls that deliver a queued reply, in order."""
    context = payload["context"]
    pressed: int | None = context.get("pressed")
    outbound = outbound_of(payload)
    acknowledgement: str | None = payload["acknowledgement"]
    steps: list[Edit | Send] = []
    if pressed is not None and acknowledgement and not any(m.replace for m in outbound):
        question = context.get("pressed_text")
        steps.append(Edit(pressed, f"{question}\n\n✓ {acknowledgement}" if question else acknowledgement,
                          None))
    for message in outbound:
        markup = keyboard(message.choices)
        if message.replace and pressed is not None:
            steps.append(Edit(pressed, message.text, markup, or_send=True))
        else:
            steps.append(Send(message.text, markup))
    return steps


class ChatOrderedProcessor(BaseUpdateProcessor):
    """Updates of one chat in the order they arrived; different chats concurrently."""

    def __init__(self, max_concurrent_updates: int = 256) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[int, asyncio.Lock] = {}
        self._waiting: dict[int, int] = {}

    @contextlib.asynccontextmanager
    async def chat(self, chat_id: int) -> AsyncIterator[None]:
        """Exclusive use of one chat: its updates, and redelivery of its replies, take turns."""
        lock = self._locks.setdefault(chat_id, asyncio.Lock())
        self._waiting[chat_id] = self._waiting.get(chat_id, 0) + 1
        try:
            async with lock:
                yield
        finally:
            # Forget idle chats so the table does not grow with every participant ever seen.
            self._waiting[chat_id] -= 1
            if self._waiting[chat_id] == 0:
                del self._waiting[chat_id]
                del self._locks[chat_id]

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        chat = update.effective_chat if isinstance(update, Update) else None
        if chat is None:
            await coroutine
            return
        async with self.chat(chat.id):
            await coroutine

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
                 delivery: Delivery | None = None, spool: Spool | None = None) -> None:
        self.service = service
        self.catalog = catalog
        self.spool = spool
        self.delivery = delivery or Delivery()
        self.processor = ChatOrderedProcessor()
        # Work every worker also does in the background with the bot (the campaign broadcaster).
        self.background: list[Callable[[Bot], Coroutine[Any, Any, None]]] = []
        self._background: list[asyncio.Task[None]] = []
        self._redelivery: asyncio.Task[None] | None = None
        self._tidied_at: float | None = None

    def inbound_for(self, message: Message) -> Inbound:
        now = self.service.clock()
        if message.text is not None:
            return Inbound.text_message(message.text, now)
        return Inbound(InboundKind.UNSUPPORTED, now)

    async def on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self.handle_update(update, context.bot)

    async def handle_update(self, update: Update, bot: Bot, *, replaying: bool = False) -> Handled:
        """One update, start to finish; when replaying, the database may still be down (WAIT)."""
        chat = update.effective_chat
        if chat is None or chat.type != ChatType.PRIVATE:
            # Surveys are one-to-one: in groups the bot stays silent rather than expose anyone.
            return Handled.DONE
        user = update.effective_user
        interface = user.language_code if user else None
        query = update.callback_query
        pressed = query.message if query is not None and isinstance(query.message, Message) else None
        if query is not None:
            inbound = Inbound.button(query.data or "", self.service.clock())
        elif update.message is not None:
            inbound = self.inbound_for(update.message)
        elif update.edited_message is not None:
            inbound = Inbound(InboundKind.EDITED, self.service.clock())
        else:
            return Handled.DONE
        if not replaying and self.spool is not None and self.spool.holds(chat.id):
            # Earlier messages of this chat are waiting on disk: this one must not overtake them.
            await self.keep(update, chat.id, interface, bot, tell=False)
            return Handled.DONE
        keep = {"pressed": pressed.message_id if pressed else None,
                "pressed_text": pressed.text if pressed else None}
        try:
            turn = await self.service.handle_async(CHANNEL, str(chat.id), inbound,
                                                   message_key=str(update.update_id),
                                                   interface_language=interface, keep_reply=keep)
        except StorageUnavailableError as exc:
            if replaying:
                return Handled.WAIT
            log.warning("database unavailable for chat %s: keeping the update (%s)", chat.id, exc)
            await self.keep(update, chat.id, interface, bot, tell=True)
            return Handled.DONE
        except Exception:
            # A fault of ours, not an outage: trying the same update again would fail the same way.
            log.exception("turn for update %s of chat %s failed", update.update_id, chat.id)
            if replaying:
                return Handled.FAILED
            await self.refuse(update, chat.id, interface, bot)
            return Handled.DONE
        if query is not None and not replaying:
            # Always answered, or the participant's app keeps a spinner on the button.
            await self.attempt(chat.id, query.answer)
        if turn.reply is not None:
            await self.deliver(bot, turn.reply)
        return Handled.DONE

    async def keep(self, update: Update, chat_id: int, interface: str | None, bot: Bot, *,
                   tell: bool) -> None:
        """The database cannot take this update: keep it on disk for later, or ask for it again."""
        kept = self.spool is not None and await asyncio.to_thread(
            self.spool.keep, update.update_id, chat_id, update.to_dict())
        if not kept:
            await self.refuse(update, chat_id, interface, bot)
            return
        if update.callback_query is not None:
            await self.attempt(chat_id, update.callback_query.answer)
        if tell:
            await self.say(bot, chat_id, interface, KEPT)

    async def refuse(self, update: Update, chat_id: int, interface: str | None, bot: Bot) -> None:
        """This update cannot be handled: answer its button and ask for the message again."""
        if update.callback_query is not None:
            await self.attempt(chat_id, update.callback_query.answer)
        await self.say(bot, chat_id, interface, SORRY)

    async def say(self, bot: Bot, chat_id: int, interface: str | None, text: str) -> None:
        """One of the channel's own messages, in the interface language (the database may be down)."""
        language = supported_language(interface) or self.service.context.community.default_language
        await self.attempt(chat_id, lambda: bot.send_message(chat_id, self.catalog.gettext(language, text)))

    async def replay(self, bot: Bot) -> int:
        """Handle the updates kept on disk, oldest first, until the database fails again."""
        if self.spool is None:
            return 0
        replayed = 0
        for path, chat_id, data in await asyncio.to_thread(self.spool.waiting):
            update = Update.de_json(data, bot)
            async with self.processor.chat(chat_id):
                handled = await self.handle_update(update, bot, replaying=True)
            if handled is Handled.WAIT:
                break
            if handled is Handled.FAILED:
                await asyncio.to_thread(self.spool.set_aside, path, chat_id)
                continue
            self.spool.done(path, chat_id)
            replayed += 1
        if replayed:
            log.info("handled %d updates kept while the database was down", replayed)
        return replayed

    async def deliver(self, bot: Bot, reply: QueuedReply) -> None:
        """Deliver a queued reply from where it stopped; if Telegram is unreachable, it waits."""
        chat_id = int(reply.address)
        steps = actions(reply.payload)
        for done in range(reply.payload["done"], len(steps)):
            step = steps[done]
            outcome = await self.attempt(chat_id, self._call(bot, chat_id, step))
            if outcome is Outcome.REFUSED and isinstance(step, Edit) and step.or_send:
                outcome = await self.attempt(chat_id, self._call(bot, chat_id, Send(step.text, step.markup)))
            if outcome is Outcome.UNREACHABLE:
                try:
                    await asyncio.to_thread(self.service.outbox.retry_later, reply.id,
                                            {**reply.payload, "done": done}, reply.attempts + 1)
                except Exception:
                    # The reply is still queued: it comes due again when its lease ends.
                    log.exception("could not reschedule the reply for chat %s", chat_id)
                return
            if outcome is Outcome.BLOCKED:
                break
        self.service.outbox.delivered(reply.id)

    @staticmethod
    def _call(bot: Bot, chat_id: int, step: Edit | Send) -> Callable[[], Awaitable[object]]:
        if isinstance(step, Edit):
            return lambda: bot.edit_message_text(step.text, chat_id=chat_id, message_id=step.message_id,
                                                 reply_markup=step.markup)
        return lambda: bot.send_message(chat_id, step.text, reply_markup=step.markup)

    async def attempt(self, chat_id: int, call: Callable[[], Awaitable[object]]) -> Outcome:
        """One Bot API call, retried through flood limits and network trouble; never raises."""
        backoff = self.delivery.first_backoff
        for attempt in range(1, self.delivery.attempts + 1):
            try:
                await call()
                return Outcome.SENT
            except Forbidden:
                log.info("chat %s blocked the bot: marking the participant stopped", chat_id)
                try:
                    await asyncio.to_thread(self.service.mark_stopped, CHANNEL, str(chat_id))
                except Exception:
                    log.exception("could not mark chat %s stopped", chat_id)
                return Outcome.BLOCKED
            except RetryAfter as exc:
                wait = exc.retry_after
                seconds = wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
                log.warning("flood limit for chat %s: waiting %.1f s", chat_id, seconds)
                await asyncio.sleep(seconds)
            except BadRequest as exc:
                if "not modified" in exc.message.lower():
                    return Outcome.SENT
                log.error("Telegram refused a call for chat %s: %s", chat_id, exc.message)
                return Outcome.REFUSED
            except NetworkError as exc:
                log.warning("network trouble for chat %s (attempt %d): %s", chat_id, attempt, exc)
                if attempt < self.delivery.attempts:
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, self.delivery.max_backoff)
            except TelegramError as exc:
                log.error("Telegram error for chat %s: %s", chat_id, exc)
                return Outcome.REFUSED
        log.warning("no luck with a call for chat %s after %d attempts", chat_id, self.delivery.attempts)
        return Outcome.UNREACHABLE

    async def redeliver(self, bot: Bot) -> int:
        """Clear delivered replies, then try those due again; returns how many were tried."""
        outbox = self.service.outbox
        await asyncio.to_thread(outbox.flush)
        due = await asyncio.to_thread(outbox.claim_due, CHANNEL)
        for reply in due:
            chat_id = int(reply.address)
            async with self.processor.chat(chat_id):
                # A turn that ran meanwhile replaced it with where the conversation stands now.
                if await asyncio.to_thread(outbox.still_pending, reply.id):
                    log.info("delivering a reply to chat %s again (attempt %d)", chat_id,
                             reply.attempts + 1)
                    await self.deliver(bot, reply)
        return len(due)

    async def tidy(self, _bot: Bot) -> int:
        now = asyncio.get_running_loop().time()
        if self._tidied_at is not None and now - self._tidied_at < self.delivery.tidy_every:
            return 0
        self._tidied_at = now
        forgotten = await asyncio.to_thread(self.service.tidy)
        if forgotten:
            log.info("forgot %d old handled-message marks", forgotten)
        return forgotten

    async def _redeliver_forever(self, bot: Bot) -> None:
        while True:
            await asyncio.sleep(self.delivery.redeliver_every)
            # Each on its own: the database may be down, and what waits stays for the next round.
            for work in (self.replay, self.redeliver, self.tidy):
                try:
                    await work(bot)
                except Exception as exc:
                    # Every few seconds during an outage: one line each, the traceback when verbose.
                    log.warning("%s round failed: %s", work.__name__, exc,
                                exc_info=log.isEnabledFor(logging.DEBUG))

    async def start(self, application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        await self.register_commands(application)
        self._redelivery = asyncio.create_task(self._redeliver_forever(application.bot))
        self._background = [asyncio.create_task(work(application.bot)) for work in self.background]

    async def stop(self, application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        """Before the bot's connections close: no redelivery may be left half way."""
        for task in self._background:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._background = []
        if self._redelivery is not None:
            self._redelivery.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._redelivery
            self._redelivery = None

    async def shutdown(self, application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        try:
            await asyncio.to_thread(self.service.outbox.flush)
        except Exception:
            log.exception("could not clear delivered replies; they may be sent again")
        await self.service.aclose()

    async def register_commands(self, application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        """The command menu, in French and English, and in the default language for everyone else."""
        default = self.service.context.community.default_language
        for language_code, language in (("fr", "fr"), ("en", "en"), (None, default)):
            commands = [BotCommand(name, self.catalog.gettext(language, text)) for name, text in COMMANDS]
            await self.attempt(0, functools.partial(application.bot.set_my_commands, commands,
                                                    language_code=language_code))


def build_application(channel: TelegramChannel, token: str, *, base_url: str | None = None,
                      delivery_retries: int = 3, budget: RateBudget | None = None,
                      ) -> Application[Any, Any, Any, Any, Any, Any]:
    """The bot's python-telegram-bot shell; ``budget`` defaults to the one shared in the database."""
    budget = budget or RateBudget(channel.service.sessions, budget_key(token))
    builder = (
        ApplicationBuilder()
        .token(token)
        # aiohttp rather than PTB's httpx: a third of the CPU per Bot API call (telegram_http.py).
        # PTB adds getUpdates' long-poll timeout to the read timeout of the polling request.
        .request(AiohttpRequest())
        .get_updates_request(AiohttpRequest(connection_pool_size=1))
        .rate_limiter(BudgetLimiter(budget, max_retries=delivery_retries))
        .concurrent_updates(channel.processor)
        .post_init(channel.start)
        .post_stop(channel.stop)
        .post_shutdown(channel.shutdown)
    )
    if base_url is not None:
        builder = builder.base_url(f"{base_url.rstrip('/')}/bot").base_file_url(
            f"{base_url.rstrip('/')}/file/bot")
    application = builder.build()
    application.add_handler(TypeHandler(Update, channel.on_update))
    return application
