"""Telegram, through python-telegram-bot 22: updates in, the service's replies out.

Updates of one chat are handled one after another (a participant's answers must not overtake each
other); different chats run concurrently. Everything the turn stores, its reply included, is committed
before anything is sent: a reply that cannot be delivered now is tried again later (bot/outbox.py),
and never loses the answer it follows. Replies of one chat go out in order, each only while it is
still current. How updates arrive (long polling, webhook) is bot/channels/telegram_intake.py.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import enum
import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session
from telegram import (
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
)
from telegram.constants import ChatType
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import Application, ApplicationBuilder, ExtBot

from bot.alerts import AlertDispatcher, Unreachable
from bot.channels.spool import Kept, Spool
from bot.channels.telegram_http import AiohttpRequest
from bot.channels.telegram_limits import PREPAID, BudgetLimiter, Prepaid, seconds
from bot.engine import callbacks
from bot.engine.language import supported_language
from bot.engine.messages import Choice, EventType, Inbound, InboundKind
from bot.engine.support import first_aid
from bot.engine.texts import N_, Catalog
from bot.outbox import outbound_of
from bot.rate_budget import Priority, RateBudget, budget_key
from bot.service import ConversationService, Prepare
from storage.errors import StorageUnavailableError
from storage.records import QueuedReply

log = logging.getLogger(__name__)

CHANNEL = "telegram"

COMMANDS = (
    ("start", N_("Start, or pick up where you left off")),
    ("help", N_("What I can do")),
    ("language", N_("Switch between French and English")),
    ("profile", N_("Change your age, city or neighbourhood")),
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
# Chats whose last buttons a worker remembers (a typed answer takes them off); the database keeps
# them all for other workers and restarts.
KEYBOARDS_KEPT = 100_000
# Keyboards built for the questions asked lately (a few per question and language).
KEYBOARDS_CACHED = 1024


class Merge(enum.Enum):
    """Whether a button turn's reply may take one rate-limited call instead of two."""

    # Edit the pressed question to show the answer, then send the next question: the chat keeps
    # every question and answer (two calls).
    NEVER = "never"
    # Edit the pressed question into the answer and the next question, with its buttons (one call).
    ALWAYS = "always"
    # One call while replies queue for the send budget, two otherwise.
    BUSY = "busy"


@dataclass(frozen=True)
class Delivery:
    """How hard to try at once before the reply waits in the outbox for a later try."""

    attempts: int = 3
    first_backoff: float = 0.5
    max_backoff: float = 8.0
    # The background round: remove delivered replies, renew leases, replay kept updates.
    tick: float = 1.0
    # Every this many rounds, look in the database for work other workers left: replies due
    # (a dead worker's, once their lease ran out) and safeguarding deliveries (staff replies from
    # the console; alerts this worker raised go at once). A dead worker's replies are taken over
    # within lease + look_every * tick (10 + 3 s), and an idle worker costs little.
    look_every: int = 3
    # How often to renew the leases of the replies this worker holds (well inside outbox.LEASE).
    renew_every: float = 3.0
    # A reply that waited longer than this for its send slot is checked against the database
    # (has the conversation moved on meanwhile, perhaps on another worker?) before it goes out.
    recheck_after: float = 0.5
    # How long a stopping worker lets replies under way finish.
    drain: float = 5.0
    # One call per button turn instead of two: never, always, or while replies queue (BUSY).
    merge: Merge = Merge.BUSY
    # BUSY means this many calls waiting for the send budget (a quarter of a second at 30/s).
    busy_backlog: int = 8
    # How often to forget handled-message marks past any redelivery window.
    tidy_every: float = 3600.0
    # A delivered reply no turn has removed this long after (the worker is quiet) is removed on its
    # own: a crash meanwhile would send it again. Under load the next turn removes it first.
    remove_after: float = 0.25


class Outcome(enum.Enum):
    SENT = enum.auto()
    # Telegram refused this call for good (bad request, message gone): retrying cannot help.
    REFUSED = enum.auto()
    # The participant blocked the bot: nothing more goes to them.
    BLOCKED = enum.auto()
    # Still failing after the attempts: worth another try later.
    UNREACHABLE = enum.auto()


class Handled(enum.Enum):
    # Its turn is stored (or there was nothing to store).
    DONE = enum.auto()
    # The database cannot take it now: it waits in the spool for the replay, in its chat's order.
    KEPT = enum.auto()
    # Neither stored nor kept (no spool, or the disk refused): whoever sent it must send it again.
    LOST = enum.auto()
    # Replaying: the database is still down; keep this update, and those after it, for the next round.
    WAIT = enum.auto()
    # Replaying: handling it failed for another reason; kept aside for a person to look at.
    FAILED = enum.auto()


@dataclass(frozen=True)
class Edit:
    message_id: int
    text: str
    markup: InlineKeyboardMarkup | None
    # A replaced question (multi-choice toggles) is sent anew if its message cannot be edited.
    or_send: bool = False


@dataclass(frozen=True)
class ClearButtons:
    """Takes the buttons off an earlier question, its text unchanged (only its id is known to
    every worker). Failing is harmless: the message may be gone or already without buttons."""

    message_id: int


@dataclass(frozen=True)
class Send:
    text: str
    markup: InlineKeyboardMarkup | None


ECHO = "\n✓ "


def question_of(text: str) -> str:
    """The question a message asks now: after an earlier answer merged into it, if any."""
    echo = text.find(ECHO)
    if echo < 0:
        return text
    rest = text.find("\n\n", echo + len(ECHO))
    return text if rest < 0 else text[rest + 2:]


Step = Edit | ClearButtons | Send


def live_keyboard(seen: tuple[int, bool] | None, stored: int | None) -> int | None:
    """The chat's last message with live buttons: what this worker saw (message id, still live),
    unless the database (as of the turn) knows a later one, sent by another worker or before a
    restart."""
    if seen is None or (stored is not None and stored > seen[0]):
        return stored
    message_id, live = seen
    return message_id if live else None


def actions(payload: dict[str, Any], *, merge: bool = False,
            live_keyboard: int | None = None) -> list[Step]:
    """The Bot API calls that deliver a queued reply, in order.

    ``merge``: a pressed question followed by exactly one new message becomes a single edit.
    ``live_keyboard``: the chat's last message with buttons; when the reply asks a question anew
    elsewhere, its buttons go, so no stale one is left to press.
    """
    context = payload["context"]
    pressed: int | None = context.get("pressed")
    outbound = outbound_of(payload)
    acknowledgement: str | None = payload["acknowledgement"]
    steps: list[Step] = []
    if pressed is not None and acknowledgement and not any(m.replace for m in outbound):
        question = question_of(context.get("pressed_text") or "")
        if merge and len(outbound) == 1:
            echo = f"{question}{ECHO}{acknowledgement}" if question else f"✓ {acknowledgement}"
            return [Edit(pressed, f"{echo}\n\n{outbound[0].text}", keyboard(outbound[0].choices))]
        steps.append(Edit(pressed, f"{question}\n\n✓ {acknowledgement}" if question else acknowledgement,
                          None))
    asks_anew = any((m.choices or m.expects_text) and not (m.replace and pressed is not None)
                    for m in outbound)
    if live_keyboard is not None and (asks_anew or payload.get("closes")) and (
            pressed is None or live_keyboard > pressed):
        # A typed answer, or a press on an older message: the last question's buttons go, so only
        # the newest question has any; after the survey's last answer (or /stop) none is left. The
        # user's own message shows their answer below it. (Older than the pressed message, they
        # went when the pressed one was sent: what we know is stale.)
        steps.insert(0, ClearButtons(live_keyboard))
    for message in outbound:
        markup = keyboard(message.choices)
        if message.replace and pressed is not None:
            steps.append(Edit(pressed, message.text, markup, or_send=True))
        else:
            steps.append(Send(message.text, markup))
    return steps


class ChatLocks:
    """Exclusive use of one chat: its updates, and the replay of its kept ones, take turns.

    asyncio's locks are fair: updates that ask in arrival order are handled in arrival order.
    """

    def __init__(self) -> None:
        self._locks: dict[int, asyncio.Lock] = {}
        self._waiting: dict[int, int] = {}

    @contextlib.asynccontextmanager
    async def chat(self, chat_id: int) -> AsyncIterator[None]:
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


@functools.lru_cache(maxsize=KEYBOARDS_CACHED)
def keyboard(choices: tuple[Choice, ...]) -> InlineKeyboardMarkup | None:
    """Options first (side by side when short, else one per row), controls on the last row.

    Kept for the questions asked lately: a keyboard is immutable, and building one costs more than
    the rest of laying out a reply.
    """
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
                 delivery: Delivery | None = None, spool: Spool | None = None,
                 alerts: AlertDispatcher | None = None) -> None:
        self.service = service
        self.alerts = alerts
        self.catalog = catalog
        self.spool = spool
        self.delivery = delivery or Delivery()
        self.chats = ChatLocks()
        # The deployment's send budget (set by build_application): replies take their slot here,
        # so a reply that waited can be checked before it goes out.
        self.budget: RateBudget | None = None
        # The long poll's networking, which keeps each answer as Telegram sent it (for the spool).
        self.polling: AiohttpRequest | None = None
        # Per chat: the newest reply this worker knows of, and the delivery of its replies under way.
        self._latest: dict[int, int] = {}
        self._deliveries: dict[int, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._background: asyncio.Task[None] | None = None
        # Work every worker also does in the background with the bot (the campaign broadcaster).
        self.companions: list[Callable[[ExtBot[Any]], Coroutine[Any, Any, None]]] = []
        self._companions: list[asyncio.Task[None]] = []
        self._tidied_at: float | None = None
        self._renewed_at: float | None = None
        self._failing: set[str] = set()
        self._removal: asyncio.TimerHandle | None = None
        # Set by the intake once the updates that waited while this worker was down are stored.
        self.caught_up = asyncio.Event()
        self._alerts_raised = asyncio.Event()
        # Per chat, the last message with buttons this worker sent or edited, and whether they are
        # still live: a typed answer takes them off. Bounded: the oldest chats are forgotten first.
        self._keyboards: collections.OrderedDict[int, tuple[int, bool]] = collections.OrderedDict()

    def inbound_for(self, message: Message) -> Inbound:
        now = self.service.clock()
        if message.text is not None:
            return Inbound.text_message(message.text, now)
        return Inbound(InboundKind.UNSUPPORTED, now)

    async def handle_update(self, update: Update, bot: ExtBot[Any], *, in_spool: bool = False,
                            replaying: bool = False) -> Handled:
        """One update's turn, stored (or kept) before this returns; its reply goes out afterwards.

        The caller holds the chat (``self.chats.chat``). ``in_spool``: the update is on disk already
        (a polled batch, or the replay), so an outage needs no second copy.
        """
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
            inbound = Inbound(InboundKind.EDITED, self.service.clock(),
                              text=update.edited_message.text or "")
        else:
            return Handled.DONE
        if not replaying and self.spool is not None and self.spool.holds(chat.id):
            # Earlier messages of this chat are waiting on disk: this one must not overtake them.
            return await self.keep(update, chat.id, interface, bot, in_spool=in_spool, tell=False)
        keep = {"pressed": pressed.message_id if pressed else None,
                "pressed_text": pressed.text if pressed else None}
        try:
            turn = await self.service.handle_async(CHANNEL, str(chat.id), inbound,
                                                   message_key=str(update.update_id),
                                                   interface_language=interface, keep_reply=keep,
                                                   prepare=self._prepaying(chat.id))
        except StorageUnavailableError as exc:
            if replaying:
                return Handled.WAIT
            log.warning("database unavailable for chat %s: keeping the update (%s)", chat.id, exc)
            return await self.keep(update, chat.id, interface, bot, in_spool=in_spool, tell=True)
        except Exception:
            # A fault of ours, not an outage: trying the same update again would fail the same way.
            log.exception("turn for update %s of chat %s failed", update.update_id, chat.id)
            if replaying:
                return Handled.FAILED
            self.refuse(update, chat.id, interface, bot)
            return Handled.DONE
        if query is not None and not replaying:
            # Always answered, or the participant's app keeps a spinner on the button.
            self._spawn(self.attempt(chat.id, query.answer))
        if turn.reply is not None:
            if self.budget is not None and isinstance(turn.prepared, list):
                self.budget.grant(turn.prepared)
            self.schedule(bot, turn.reply)
        if any(event.type is EventType.DISCLOSURE_DETECTED for event in turn.events):
            self.alert_raised()
        return Handled.DONE

    def _prepaying(self, chat_id: int) -> Prepare | None:
        """When the reply will go out right after its turn (nothing of this chat under way, nobody
        here waiting for the budget), its send slots are reserved in the turn's own transaction:
        one commit and one database thread hand-off instead of two. Its way of delivery is settled
        then, as its first call would have settled it."""
        budget = self.budget
        if budget is None or chat_id in self._deliveries or not budget.prepayable():
            return None
        merged = self._merging()
        seen = self._keyboards.get(chat_id)

        def prepare(session: Session, reply: QueuedReply) -> list[float]:
            live = live_keyboard(seen, reply.payload.get("buttons_at"))
            reply.payload["merged"] = merged
            reply.payload["keyboard"] = live
            steps = actions(reply.payload, merge=merged, live_keyboard=live)
            return budget.reserve_in(session, len(steps))

        return prepare

    async def keep(self, update: Update, chat_id: int, interface: str | None, bot: ExtBot[Any], *,
                   in_spool: bool, tell: bool) -> Handled:
        """The database cannot take this update now: it waits on disk for the replay."""
        if self.spool is None:
            return Handled.LOST
        if not in_spool and not await asyncio.to_thread(
                self.spool.keep, [Kept(update.update_id, chat_id, update.to_dict())]):
            return Handled.LOST
        self.spool.stall(update.update_id)
        if update.callback_query is not None:
            self._spawn(self.attempt(chat_id, update.callback_query.answer))
        if tell:
            message = update.message or update.edited_message
            language = supported_language(interface) or self.service.context.community.default_language
            # A disclosure cannot wait for the database: the helplines go out now.
            aid = first_aid(self.service.context, message.text, language) if (
                message is not None and message.text) else None
            if aid is not None:
                self._spawn(self.attempt(chat_id, lambda: bot.send_message(chat_id, aid)))
            else:
                self._spawn(self.say(bot, chat_id, interface, KEPT))
        return Handled.KEPT

    def refuse(self, update: Update, chat_id: int, interface: str | None, bot: ExtBot[Any]) -> None:
        """This update cannot be handled: answer its button and ask for the message again."""
        if update.callback_query is not None:
            self._spawn(self.attempt(chat_id, update.callback_query.answer))
        self._spawn(self.say(bot, chat_id, interface, SORRY))

    async def say(self, bot: ExtBot[Any], chat_id: int, interface: str | None, text: str) -> None:
        """One of the channel's own messages, in the interface language (the database may be down)."""
        language = supported_language(interface) or self.service.context.community.default_language
        await self.attempt(chat_id, lambda: bot.send_message(chat_id, self.catalog.gettext(language, text)))

    async def replay(self, bot: ExtBot[Any]) -> int:
        """Handle the updates waiting on disk, oldest first, until the database fails again."""
        if self.spool is None:
            return 0
        self.spool.tidy()
        replayed = 0
        for kept in self.spool.stalled():
            if kept.update_id not in self.spool:
                continue
            update = Update.de_json(kept.update, bot)
            async with self.chats.chat(kept.chat_id):
                handled = await self.handle_update(update, bot, in_spool=True, replaying=True)
            if handled is Handled.WAIT:
                break
            if handled is Handled.FAILED:
                await asyncio.to_thread(self.spool.set_aside, kept.update_id)
                continue
            self.spool.done(kept.update_id)
            replayed += 1
        if replayed:
            log.info("handled %d updates kept on disk", replayed)
        return replayed

    def schedule(self, bot: ExtBot[Any], reply: QueuedReply) -> None:
        """Deliver a reply after those of its chat already under way, while it is the newest."""
        chat_id = int(reply.address)
        self._latest[chat_id] = reply.id
        self.service.outbox.hold(reply.id)
        previous = self._deliveries.get(chat_id)
        task = asyncio.get_running_loop().create_task(self._deliver_after(previous, bot, reply))
        self._deliveries[chat_id] = task

        def finished(done: asyncio.Task[None]) -> None:
            if self._deliveries.get(chat_id) is done:
                del self._deliveries[chat_id]
                if self._latest.get(chat_id) == reply.id:
                    del self._latest[chat_id]

        task.add_done_callback(finished)

    async def _deliver_after(self, previous: asyncio.Task[None] | None, bot: ExtBot[Any],
                             reply: QueuedReply) -> None:
        if previous is not None:
            await asyncio.wait({previous})
        try:
            await self.deliver(bot, reply)
        except Exception:
            # The reply stays queued: its lease runs out and it is tried again.
            log.exception("delivering a reply to chat %s failed", reply.address)

    def _merging(self) -> bool:
        if self.delivery.merge is Merge.BUSY:
            return self.budget is not None and self.budget.backlog() >= self.delivery.busy_backlog
        return self.delivery.merge is Merge.ALWAYS

    async def deliver(self, bot: ExtBot[Any], reply: QueuedReply) -> None:
        """Deliver a queued reply from where it stopped; if Telegram is unreachable, it waits."""
        chat_id = int(reply.address)
        # The way a reply is delivered is settled by its first call: a retry resumes the same steps.
        if "merged" not in reply.payload:
            reply.payload["merged"] = self._merging()
            reply.payload["keyboard"] = self._live_keyboard(chat_id, reply.payload.get("buttons_at"))
        live = reply.payload["keyboard"]
        if isinstance(live, list):
            live = live[0]  # (message id, text), as replies queued by earlier versions have it
        steps = actions(reply.payload, merge=reply.payload["merged"], live_keyboard=live)
        for done in range(reply.payload["done"], len(steps)):
            step = steps[done]
            prepaid = await self._slot(chat_id, reply, then=len(steps) - done - 1)
            if prepaid is None:
                log.info("reply %d to chat %s is out of date: dropped", reply.id, chat_id)
                break
            outcome = await self.attempt(chat_id, self._call(bot, chat_id, step, prepaid, live))
            if outcome is Outcome.REFUSED and isinstance(step, Edit) and step.or_send:
                resend = Send(step.text, step.markup)
                outcome = await self.attempt(chat_id, self._call(bot, chat_id, resend, False, live))
            if isinstance(step, ClearButtons) and outcome is not Outcome.SENT:
                outcome = Outcome.SENT  # an earlier question's buttons; the new question matters more
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
        self._remove_soon()

    def _remove_soon(self) -> None:
        """Remove delivered replies shortly, unless a turn does it first (no write of its own then)."""
        if self._removal is None:
            self._removal = asyncio.get_running_loop().call_later(self.delivery.remove_after,
                                                                  self._remove_now)

    def _remove_now(self) -> None:
        self._removal = None
        if self.service.outbox.has_delivered():
            self._spawn(self._flush_quietly())

    async def _flush_quietly(self) -> None:
        try:
            await asyncio.to_thread(self.service.outbox.flush)
        except Exception as exc:
            log.info("could not remove delivered replies now, the next round tries again: %s", exc)

    async def _slot(self, chat_id: int, reply: QueuedReply, then: int) -> bool | None:
        """Wait for a send slot; None if the reply went out of date meanwhile, else whether the
        slot is already paid for (True) or the call must ask the rate limiter itself (False).
        ``then`` calls of the same reply follow: their slots are reserved with this one.

        Replies this worker makes for one chat go out in the order of their turns, each in full (a
        help text does not cancel the question before it). A reply that waited is checked against
        the database: a newer turn on another worker makes it out of date.
        """
        if self.budget is None:
            return False
        loop = asyncio.get_running_loop()
        asked = loop.time()
        await self.budget.acquire(Priority.REPLY, chat_id, then=then)
        if self._latest.get(chat_id, reply.id) != reply.id:
            # A newer reply from this worker follows this one, in order: nothing to check.
            return True
        if loop.time() - asked > self.delivery.recheck_after:
            # Long enough for another worker to have answered a newer message of this chat.
            try:
                if not await asyncio.to_thread(self.service.outbox.is_current, reply.id):
                    return None
            except Exception as exc:
                log.warning("could not check that reply %d is current, sending it: %s", reply.id, exc)
        return True

    def _live_keyboard(self, chat_id: int, stored: int | None) -> int | None:
        return live_keyboard(self._keyboards.get(chat_id), stored)

    def _call(self, bot: ExtBot[Any], chat_id: int, step: Step, prepaid: bool,
              live: int | None) -> Callable[[], Awaitable[object]]:
        """The Bot API call for a step; only its first try uses the slot already waited for.
        ``live``: the chat's message with live buttons when the reply began."""
        first = [prepaid]

        def limit() -> Priority | Prepaid:
            paid, first[0] = first[0], False
            return PREPAID if paid else Priority.REPLY

        async def call() -> None:
            if isinstance(step, ClearButtons):
                await bot.edit_message_reply_markup(chat_id=chat_id, message_id=step.message_id,
                                                    reply_markup=None, rate_limit_args=limit())
                message_id = step.message_id
            elif isinstance(step, Edit):
                await bot.edit_message_text(step.text, chat_id=chat_id, message_id=step.message_id,
                                            reply_markup=step.markup, rate_limit_args=limit())
                message_id = step.message_id
            else:
                sent = await bot.send_message(chat_id, step.text, reply_markup=step.markup,
                                              rate_limit_args=limit())
                message_id = sent.message_id
            self._note_keyboard(chat_id, message_id, step, live)

        return call

    def _note_keyboard(self, chat_id: int, message_id: int, step: Step, before: int | None) -> None:
        """Remember the chat's live buttons, here and (at the next flush) for every worker."""
        if not isinstance(step, ClearButtons) and step.markup is not None:
            live = True
        elif isinstance(step, ClearButtons) or message_id == before or \
                self._keyboards.get(chat_id, (None, False))[0] == message_id:
            live = False
        else:
            return
        self._keyboards[chat_id] = (message_id, live)
        self._keyboards.move_to_end(chat_id)
        while len(self._keyboards) > KEYBOARDS_KEPT:
            self._keyboards.popitem(last=False)
        self.service.outbox.buttons(CHANNEL, str(chat_id), message_id, live)

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
                wait = seconds(exc.retry_after)
                log.warning("flood limit for chat %s: waiting %.1f s", chat_id, wait)
                await asyncio.sleep(wait)
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

    async def redeliver(self, bot: ExtBot[Any]) -> int:
        """Take over replies due for another try (or left by a worker that died); returns how many."""
        if not self.caught_up.is_set():
            # Not before the updates that waited for this worker are stored: a reply the dead
            # worker did deliver must be judged against the answer already on its way.
            return 0
        outbox = self.service.outbox
        due = await asyncio.to_thread(outbox.claim_due, CHANNEL)
        for reply in due:
            chat_id = int(reply.address)
            if self._latest.get(chat_id, reply.id) > reply.id or not await asyncio.to_thread(
                    outbox.is_current, reply.id):
                # The conversation moved on since it was made: sending it now would only confuse.
                log.info("reply %d to chat %s is out of date: dropped", reply.id, chat_id)
                outbox.delivered(reply.id)
                continue
            log.info("delivering a reply to chat %s again (attempt %d)", chat_id, reply.attempts + 1)
            self.schedule(bot, reply)
        return len(due)

    def catch_up_done(self, bot: ExtBot[Any]) -> None:
        """What waited for this worker is stored: take over what a dead worker left right away,
        not at the next round (a worker restarted in a crash loop may not live to see it)."""
        if not self.caught_up.is_set():
            self.caught_up.set()
            self._spawn(self._redeliver_now(bot))

    async def _redeliver_now(self, bot: ExtBot[Any]) -> None:
        try:
            await self.redeliver(bot)
        except Exception as exc:
            log.warning("taking over waiting replies failed, the next round tries again: %s", exc)

    async def keep_leases(self, _bot: ExtBot[Any]) -> int:
        """Remove delivered replies; every few seconds tell the others this worker is still at it."""
        outbox = self.service.outbox
        removed = await asyncio.to_thread(outbox.flush)
        now = asyncio.get_running_loop().time()
        if self._renewed_at is None or now - self._renewed_at >= self.delivery.renew_every:
            self._renewed_at = now
            await asyncio.to_thread(outbox.renew)
        return removed

    async def tidy(self, _bot: ExtBot[Any]) -> int:
        now = asyncio.get_running_loop().time()
        if self._tidied_at is not None and now - self._tidied_at < self.delivery.tidy_every:
            return 0
        self._tidied_at = now
        forgotten = await asyncio.to_thread(self.service.tidy)
        if forgotten:
            log.info("forgot %d old handled-message marks", forgotten)
        purged = await asyncio.to_thread(self.service.purge)
        if self.spool is not None:
            before = time.time() - self.service.retention.total_seconds()
            forgotten_files = await asyncio.to_thread(self.spool.forget_set_aside, before)
            if forgotten_files:
                log.info("retention: removed %d set-aside spool files", forgotten_files)
        log.info("retention: %d answers and %d safeguarding messages past the retention period now "
                 "keep only their scrubbed text; %d cool-downs expired", purged.answers, purged.alerts,
                 purged.turned_away)
        return forgotten

    async def deliver_alerts(self, bot: ExtBot[Any]) -> int:
        """Safeguarding alerts to staff chats and e-mail, staff replies to young people."""
        if self.alerts is None:
            return 0

        async def send(channel: str, address: str, text: str) -> None:
            if channel != CHANNEL:
                # The terminal chat, say: no way to reach that person from here, now or later.
                raise Unreachable(f"no delivery on channel {channel!r} from Telegram")
            try:
                await bot.send_message(int(address), text, rate_limit_args=Priority.ALERT)
            except Forbidden as exc:
                raise Unreachable(f"blocked the bot: {exc}") from exc

        return await self.alerts.round(send)

    def alert_raised(self) -> None:
        """A turn on this worker raised a safeguarding alert: deliver it now, not at the next look."""
        self._alerts_raised.set()

    async def _rounds(self, bot: ExtBot[Any]) -> None:
        rounds = 0
        while True:
            looking = rounds % self.delivery.look_every == 0
            alerts = looking or self._alerts_raised.is_set()
            self._alerts_raised.clear()
            works = [self.replay, self.keep_leases, *([self.redeliver] if looking else []),
                     *([self.deliver_alerts] if alerts else []), self.tidy]
            rounds += 1
            # Each on its own: the database may be down, and what waits stays for the next round.
            for work in works:
                try:
                    await work(bot)
                except Exception as exc:
                    if work.__name__ not in self._failing:
                        # Once per outage, the traceback when verbose.
                        self._failing.add(work.__name__)
                        log.warning("%s round failed: %s", work.__name__, exc,
                                    exc_info=log.isEnabledFor(logging.DEBUG))
                else:
                    self._failing.discard(work.__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._alerts_raised.wait(), self.delivery.tick)

    def _spawn(self, work: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def start(self, bot: ExtBot[Any]) -> None:
        """Register the commands and start the background rounds (the first one replays at once)."""
        await self.register_commands(bot)
        self._background = asyncio.create_task(self._rounds(bot))
        self._companions = [asyncio.create_task(work(bot)) for work in self.companions]

    async def stop(self) -> None:
        """Let replies under way finish (briefly), stop the rounds, and record what was delivered."""
        for companion in self._companions:
            companion.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await companion
        self._companions = []
        pending = set(self._deliveries.values()) | self._tasks
        if pending:
            await asyncio.wait(pending, timeout=self.delivery.drain)
        if self._background is not None:
            self._background.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._background
            self._background = None
        for task in set(self._deliveries.values()) | self._tasks:
            task.cancel()
        if self._removal is not None:
            self._removal.cancel()
            self._removal = None
        try:
            await asyncio.to_thread(self.service.outbox.flush)
        except Exception:
            log.exception("could not clear delivered replies; those not answered since may be sent again")
        if self.spool is not None:
            await asyncio.to_thread(self.spool.close)
        await self.service.aclose()

    async def register_commands(self, bot: ExtBot[Any]) -> None:
        """The command menu, in French and English, and in the default language for everyone else."""
        default = self.service.context.community.default_language
        for language_code, language in (("fr", "fr"), ("en", "en"), (None, default)):
            commands = [BotCommand(name, self.catalog.gettext(language, text)) for name, text in COMMANDS]
            await self.attempt(0, functools.partial(bot.set_my_commands, commands,
                                                    language_code=language_code))


def build_application(channel: TelegramChannel, token: str, *, base_url: str | None = None,
                      delivery_retries: int = 3, budget: RateBudget | None = None,
                      ) -> Application[Any, Any, Any, Any, Any, Any]:
    """python-telegram-bot's Bot with our networking and the shared send budget.

    Updates come in through bot/channels/telegram_intake.py, not PTB's Updater: it acknowledges an
    update only once it is stored. ``budget`` defaults to the one shared in the database.
    """
    budget = budget or RateBudget(channel.service.sessions, budget_key(token))
    channel.budget = budget
    channel.polling = polling = AiohttpRequest(connection_pool_size=1, keep_last_body=True)
    builder = (
        ApplicationBuilder()
        .token(token)
        # aiohttp rather than PTB's httpx: a third of the CPU per Bot API call (telegram_http.py).
        .request(AiohttpRequest())
        .get_updates_request(polling)
        .rate_limiter(BudgetLimiter(budget, max_retries=delivery_retries))
        .updater(None)
    )
    if base_url is not None:
        builder = builder.base_url(f"{base_url.rstrip('/')}/bot").base_file_url(
            f"{base_url.rstrip('/')}/file/bot")
    return builder.build()
