"""Campaign invitations on Telegram: one message with its Start / Not now buttons."""

from __future__ import annotations

import logging
from datetime import timedelta

from telegram import Bot
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut

from bot.broadcast import Flooded, Sent
from bot.channels.telegram import keyboard
from bot.engine.messages import Outbound
from bot.rate_budget import RateBudget

log = logging.getLogger(__name__)

async def send_invitation(bot: Bot, budget: RateBudget, address: str,
                          message: Outbound) -> Sent | Flooded:
    """Send one invitation. A 429 pauses every worker (the shared budget) and the invitation goes
    back to the queue until Telegram's wait is over: a refused message certainly did not leave,
    and one held as "sending" through the wait would be lost if the sender were killed then."""
    chat_id = int(address)
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
        return Flooded(seconds)
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
