"""python-telegram-bot's rate limiter seam, backed by the shared send budget (bot/rate_budget.py).

Every Bot API call with a ``chat_id`` (sending, editing, deleting a message, chat actions) waits for
a slot of the bot's one budget, as Telegram counts those. Others (answering a button press, getting
updates, setting commands) go at once. A call passes its priority as ``rate_limit_args``
(replies by default), or PREPAID when it waited for its slot itself. A 429 pauses the whole budget
for ``retry_after``, then the call is tried again.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

from bot.rate_budget import Priority, RateBudget

log = logging.getLogger(__name__)
# What a Bot API call answers (python-telegram-bot's JSONDict, which is not public).
Result = bool | dict[str, Any] | list[dict[str, Any]]


class Prepaid(enum.Enum):
    """The caller already waited for this call's slot (to check, once it had it, that the call is
    still worth making)."""

    SLOT = enum.auto()


PREPAID = Prepaid.SLOT


def seconds(retry_after: float | timedelta) -> float:
    return retry_after.total_seconds() if isinstance(retry_after, timedelta) else float(retry_after)


class BudgetLimiter(BaseRateLimiter[Priority | Prepaid]):
    def __init__(self, budget: RateBudget, max_retries: int = 3) -> None:
        self.budget = budget
        self.max_retries = max_retries

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        await self.budget.aclose()

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, Result]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: Priority | Prepaid | None,
    ) -> Result:
        chat = data.get("chat_id")
        if chat is None:
            return await callback(*args, **kwargs)
        chat_id = int(chat) if isinstance(chat, int) or str(chat).lstrip("-").isdigit() else None
        prepaid = rate_limit_args is PREPAID
        priority = rate_limit_args if isinstance(rate_limit_args, Priority) else Priority.REPLY
        attempt = 0
        while True:
            if not prepaid:
                await self.budget.acquire(priority, chat_id)
            prepaid = False
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                wait = seconds(exc.retry_after)
                log.warning("Telegram's flood limit on %s: every worker waits %.1f s", endpoint, wait)
                self.budget.penalise(wait)
                attempt += 1
                if attempt > self.max_retries:
                    raise
