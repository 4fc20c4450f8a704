"""Campaign invitations on Telegram: one message with its Start / Not now buttons."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from telegram import Bot
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut

from bot.broadcast import Sent
from bot.channels.telegram import keyboard
from bot.engine.messages import Outbound
from bot.rate_budget import RateBudget

log = logging.getLogger(__name__)

# Flood waits sat out for one message before it goes back to the queue.
FLOOD_WAITS = 3


async def send_invitation(bot: Bot, budget: RateBudget, address: str, message: Outbound) -> Sent:
    """Send one invitation; a 429 pauses every worker (the shared budget) and tries again."""
    chat_id = int(address)
    for _ in range(FLOOD_WAITS):
        try:
            await bot.send_message(chat_id, message.text, reply_markup=keyboard(message.choices))
            return Sent.SENT
        except Forbidden:
            return Sent.BLOCKED
        except RetryAfter as exc:
            wait = exc.retry_after
            seconds = wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
            log.warning("flood limit while inviting: every worker waits %.1f s", seconds)
            budget.penalise(seconds)
            await asyncio.sleep(seconds)
        except BadRequest as exc:
            log.error("Telegram refused an invitation to chat %s: %s", chat_id, exc.message)
            return Sent.REFUSED
        except TimedOut:
            # The request may have reached Telegram: sending it again could invite twice.
            log.warning("no answer from Telegram for an invitation to chat %s", chat_id)
            return Sent.UNCERTAIN
        except NetworkError as exc:
            log.warning("network trouble while inviting chat %s: %s", chat_id, exc)
            return Sent.RETRY
        except TelegramError as exc:
            log.error("Telegram error while inviting chat %s: %s", chat_id, exc)
            return Sent.REFUSED
    return Sent.RETRY
