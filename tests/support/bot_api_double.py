"""A Bot API double at the HTTP level for broadcast tests and benchmarks: it counts every message.

Much lighter than the emulator (10,000 messages in seconds), on a loopback port in a thread of its
own. It answers getMe and sendMessage like Telegram, records each sendMessage with the time it
arrived, and can answer 403 for chosen chats and 429 above a chosen rate, or take messages and
hold their answers (a sender killed while its requests are out, before Telegram answered).

    with BotApiDouble() as double:
        env = {"TELEGRAM_API_URL": double.url, "TELEGRAM_BOT_TOKEN": double.token}
        ...
        double.sent()   # [(time, chat_id, text, buttons), ...]
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

TOKEN = "123456:double"


@dataclass
class Sent:
    at: float
    chat_id: int
    text: str
    buttons: list[str]


@dataclass
class BotApiDouble:
    token: str = TOKEN
    # Chats that blocked the bot (403).
    blocked: set[int] = field(default_factory=set)
    # Answer 429 when more than this many messages arrived in the last second (None: never).
    flood_above: float | None = None
    retry_after: int = 1
    # Messages beyond this many are recorded as they arrive, and answered only at `release()`.
    hold_after: int | None = None
    _sent: list[Sent] = field(default_factory=list)
    _floods: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _recent: deque[float] = field(default_factory=deque)

    def __post_init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._released = asyncio.Event()
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def sent(self) -> list[Sent]:
        with self._lock:
            return list(self._sent)

    @property
    def floods(self) -> int:
        return self._floods

    def __enter__(self) -> BotApiDouble:
        self._thread.start()
        self._ready.wait(10)
        return self

    def release(self) -> None:
        """Answer the held messages, and every later one at once."""
        self._loop.call_soon_threadsafe(self._released.set)

    def __exit__(self, *_exc: object) -> None:
        self.release()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._handle)
        runner = web.AppRunner(app, access_log=None)
        self._loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            self._loop.run_until_complete(runner.cleanup())
            self._loop.close()

    async def _params(self, request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            data: dict[str, Any] = await request.json()
            return data
        form = await request.post()
        return {k: v for k, v in form.items()}

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"},
                                     status=401)
        if method == "getMe":
            return web.json_response({"ok": True, "result": {
                "id": 123456, "is_bot": True, "first_name": "YouthVoice", "username": "youthvoice_bot",
                "can_join_groups": False, "can_read_all_group_messages": False,
                "supports_inline_queries": False}})
        if method != "sendMessage":
            return web.json_response({"ok": True, "result": True})
        params = await self._params(request)
        chat_id = int(params["chat_id"])
        now = time.time()
        with self._lock:
            while self._recent and now - self._recent[0] > 1.0:
                self._recent.popleft()
            if self.flood_above is not None and len(self._recent) >= self.flood_above:
                self._floods += 1
                return web.json_response({"ok": False, "error_code": 429,
                                          "description": "Too Many Requests: retry later",
                                          "parameters": {"retry_after": self.retry_after}}, status=429)
            if chat_id in self.blocked:
                return web.json_response({"ok": False, "error_code": 403,
                                          "description": "Forbidden: bot was blocked by the user"},
                                         status=403)
            self._recent.append(now)
            markup = params.get("reply_markup") or {}
            if isinstance(markup, str):
                markup = json.loads(markup)
            buttons = [b["text"] for row in markup.get("inline_keyboard", []) for b in row]
            self._sent.append(Sent(now, chat_id, str(params.get("text", "")), buttons))
            message_id = next(self._ids)
            held = self.hold_after is not None and len(self._sent) > self.hold_after
        if held:
            await self._released.wait()
        return web.json_response({"ok": True, "result": {
            "message_id": message_id, "date": int(now), "text": params.get("text", ""),
            "chat": {"id": chat_id, "type": "private", "first_name": "Young"},
            "from": {"id": 123456, "is_bot": True, "first_name": "YouthVoice"}}})
