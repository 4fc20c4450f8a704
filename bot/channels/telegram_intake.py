"""How updates come in from Telegram: acknowledged only once they are safe.

Telegram forgets an update once it is acknowledged: by a later getUpdates whose offset is above it
(long polling), or by a 2xx answer to its webhook request. python-telegram-bot's Updater and webhook
server acknowledge as soon as the update is in memory, before any handler has stored it, so a crash in
between loses it for good. This module owns both loops instead (keeping PTB's Bot and types):

- Long polling: each batch is written to the spool in one write, flushed to disk, before the next
  getUpdates confirms it; its turns then run while the next batch is fetched. Without a spool (or
  if the disk refuses), the batch is confirmed only once every turn in it is stored.
- Webhook: the answer waits for the turn to be stored (or kept in the spool while the database is
  down); anything else answers 500 and Telegram sends the update again.

After a crash at any moment an update is either stored, on disk (replayed at start-up, oldest
first) or still with Telegram (sent again); handled-message marks make a repeat harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from telegram import Update
from telegram.error import Conflict, NetworkError, TelegramError
from telegram.ext import Application, ExtBot

from bot.channels.spool import Kept
from bot.channels.telegram import Handled, TelegramChannel

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# Telegram holds a long poll open up to this long when there is nothing to hand out.
POLL_TIMEOUT = 25
# Beyond the long poll itself, how long to wait for Telegram's answer.
POLL_READ_MARGIN = 10.0
MAX_BACKOFF = 30.0
# Behind a webhook, the longest a restarted worker waits for what Telegram kept for it before it
# takes over replies a dead worker left (it usually stops waiting much sooner).
WEBHOOK_CATCH_UP = 5.0
# How often to ask Telegram how many updates still wait for delivery meanwhile.
CATCH_UP_EVERY = 0.2


@dataclass(frozen=True)
class Webhook:
    listen: str
    port: int
    path: str
    secret: str | None
    # The public address to register with Telegram; None when another worker registers it.
    url: str | None = None


class Intake:
    def __init__(self, channel: TelegramChannel, bot: ExtBot[Any], *,
                 poll_timeout: int = POLL_TIMEOUT) -> None:
        self.channel = channel
        self.bot = bot
        self.poll_timeout = poll_timeout
        self._turns: set[asyncio.Task[None]] = set()
        # Updates the webhook has taken (stored or kept) since this worker started.
        self.received = 0

    async def take(self, update: Update, *, in_spool: bool) -> Handled:
        """Handle one update in its chat's order; returns once its turn is stored or kept."""
        chat = update.effective_chat
        if chat is None:
            return await self.channel.handle_update(update, self.bot, in_spool=in_spool)
        async with self.channel.chats.chat(chat.id):
            return await self.channel.handle_update(update, self.bot, in_spool=in_spool)

    async def _take_polled(self, update: Update, in_spool: bool) -> None:
        try:
            handled = await self.take(update, in_spool=in_spool)
        except Exception:
            log.exception("update %s could not be handled", update.update_id)
            handled = Handled.LOST
        spool = self.channel.spool
        if handled is Handled.LOST and update.effective_chat is not None:
            # Confirmed without a copy on disk (the disk refused it): ask for the message again.
            user = update.effective_user
            self.channel.refuse(update, update.effective_chat.id, user.language_code if user else None,
                                self.bot)
        if in_spool and spool is not None and handled is not Handled.KEPT:
            spool.done(update.update_id)

    async def poll(self) -> None:
        """Long polling until cancelled; each batch is on disk before the next call confirms it."""
        offset = 0
        backoff = 1.0
        spool = self.channel.spool
        try:
            while True:
                catching_up = not self.channel.caught_up.is_set()
                try:
                    updates = await self.bot.get_updates(
                        offset=offset, timeout=0 if catching_up else self.poll_timeout,
                        allowed_updates=Update.ALL_TYPES, read_timeout=POLL_READ_MARGIN)
                except (NetworkError, Conflict) as exc:
                    # Conflict: another poller on the same token (a worker still stopping).
                    log.warning("getUpdates failed (%s): trying again in %.0f s", exc, backoff)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, MAX_BACKOFF)
                    continue
                except Exception:
                    # Never let the loop die: a batch that cannot be read is kept aside, then skipped.
                    offset = self._set_aside_unreadable(offset)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, MAX_BACKOFF)
                    continue
                backoff = 1.0
                if updates:
                    kept = spool is not None and await asyncio.to_thread(spool.keep, self._as_sent(updates))
                    turns = [self._spawn(self._take_polled(u, kept)) for u in updates]
                    if not kept or catching_up:
                        # No copy on disk: confirm only once every turn of the batch is stored.
                        await asyncio.wait(turns)
                    offset = updates[-1].update_id + 1
                if catching_up:
                    # What waited at Telegram while this worker was down is stored: replies left by
                    # a dead worker may now be judged current or not.
                    self.channel.catch_up_done(self.bot)
        finally:
            if offset:
                await self._confirm(offset)

    def _set_aside_unreadable(self, offset: int) -> int:
        """The last answer could not be read as updates: keep it on disk and move past it."""
        polling = self.channel.polling
        body = polling.last_body if polling is not None else b""
        try:
            ids = [int(u["update_id"]) for u in json.loads(body)["result"]]
        except Exception:
            log.exception("getUpdates failed: trying again")
            return offset
        spool = self.channel.spool
        if spool is not None and ids:
            (spool.directory / f"{ids[0]:020d}.unreadable").write_bytes(body)
        log.exception("updates %s could not be read: set aside in the spool, skipped", ids)
        return max(ids, default=offset - 1) + 1

    def _as_sent(self, updates: tuple[Update, ...]) -> list[Kept]:
        """The updates as Telegram sent them (cheaper than serialising the parsed ones again)."""
        polling = self.channel.polling
        sent = json.loads(polling.last_body)["result"] if polling is not None else None
        if not isinstance(sent, list) or len(sent) != len(updates):
            sent = [update.to_dict() for update in updates]
        return [Kept(u.update_id, u.effective_chat.id if u.effective_chat else 0, data)
                for u, data in zip(updates, sent, strict=True)]

    async def _confirm(self, offset: int) -> None:
        """On the way out: let the turns under way be stored, then confirm what was fetched."""
        if self._turns:
            await asyncio.wait(self._turns, timeout=self.channel.delivery.drain)
        with contextlib.suppress(TelegramError, asyncio.CancelledError):
            await self.bot.get_updates(offset=offset, limit=1, timeout=0)

    async def catch_up_webhook(self, longest: float = WEBHOOK_CATCH_UP) -> None:
        """Behind a webhook: wait until what Telegram kept while this worker was down is stored.

        Telegram sends what waited as soon as the webhook answers, one update after another, and
        says how many still wait (``pending_update_count``). Caught up when none wait, or when this
        worker has taken as many as were waiting at the start (new messages keep arriving on a
        busy bot, and Telegram sends in order), or after ``longest`` at most (an update that keeps
        failing, or one taken by another worker). Only then are replies a dead worker left
        judged: one it did deliver is dropped if the answer to it was among those waiting.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + longest
        waiting: int | None = None
        taken_before = self.received
        while loop.time() < deadline:
            try:
                info = await self.bot.get_webhook_info()
            except Exception as exc:
                # Telegram unreachable, or an answer that cannot be read: the deadline still holds.
                log.warning("could not ask Telegram what waits for this bot: %s", exc)
            else:
                if info.pending_update_count == 0:
                    break
                if waiting is None:
                    waiting, taken_before = info.pending_update_count, self.received
                elif self.received - taken_before >= waiting:
                    break
            await asyncio.sleep(CATCH_UP_EVERY)
        # Not when cancelled: a worker stopping takes nothing over.
        self.channel.catch_up_done(self.bot)

    def _spawn(self, work: Any) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(work)
        self._turns.add(task)
        task.add_done_callback(self._turns.discard)
        return task

    def webhook(self, path: str, secret: str | None) -> web.Application:
        """The webhook endpoint: answers 200 only once the update is stored or kept on disk."""

        async def receive(request: web.Request) -> web.Response:
            if secret is not None and request.headers.get(SECRET_HEADER) != secret:
                return web.Response(status=403)
            try:
                update = Update.de_json(await request.json(), self.bot)
            except Exception:
                # Not an update Telegram would send: sending it again cannot help.
                log.warning("webhook request that is not an update: ignored")
                return web.Response(status=400)
            handled = await self.take(update, in_spool=False)
            if handled is Handled.LOST:
                return web.Response(status=500)
            self.received += 1
            return web.Response(status=200)

        app = web.Application()
        app.router.add_post(f"/{path.strip('/')}", receive)
        return app


@contextlib.asynccontextmanager
async def serving(application: Application[Any, Any, Any, Any, Any, Any], channel: TelegramChannel,
                  webhook: Webhook | None = None, *, poll_timeout: int = POLL_TIMEOUT,
                  ) -> AsyncIterator[Intake]:
    """The bot running (polling, or behind ``webhook``) for the duration of the block."""
    async with application:
        bot = application.bot
        intake = Intake(channel, bot, poll_timeout=poll_timeout)
        await channel.start(bot)
        runner: web.AppRunner | None = None
        poller: asyncio.Task[None] | None = None
        catch_up: asyncio.Task[None] | None = None
        try:
            if webhook is not None:
                runner = web.AppRunner(intake.webhook(webhook.path, webhook.secret), access_log=None)
                await runner.setup()
                await web.TCPSite(runner, webhook.listen, webhook.port).start()
                if webhook.url is not None:
                    await bot.set_webhook(webhook.url, secret_token=webhook.secret,
                                          allowed_updates=Update.ALL_TYPES)
                # Telegram sends what waited for this worker as soon as it answers: replies a dead
                # worker left are taken over once that is stored.
                catch_up = asyncio.create_task(intake.catch_up_webhook())
            else:
                await bot.delete_webhook()
                poller = asyncio.create_task(intake.poll())
            yield intake
        finally:
            for task in (poller, catch_up):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            if runner is not None:
                await runner.cleanup()
            await channel.stop()


async def serve(application: Application[Any, Any, Any, Any, Any, Any], channel: TelegramChannel,
                webhook: Webhook | None = None) -> None:
    """Run until SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with serving(application, channel, webhook):
        log.info("serving Telegram by %s", "webhook" if webhook else "long polling")
        await stop.wait()
