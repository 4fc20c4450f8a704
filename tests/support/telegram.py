"""A Telegram Bot API emulator for end-to-end tests, and the user's side of its chats.

The emulator is telegram-test-api (npm, pinned in telegram_emulator/package.json) started by
telegram_emulator/launch.js, which patches the gaps that keep python-telegram-bot 22 from using it
(listed in telegram_emulator/README.md). It listens on 127.0.0.1 only.

    emulator = start_emulator()                  # once per session
    bot = emulator.bot()                         # a fresh token: nothing shared with other tests
    app = ApplicationBuilder().token(bot.token).base_url(bot.base_url).build()
    user = bot.user(language_code="fr")
    await user.send_command("start")
    reply = await user.next_message()
    await user.press_button(reply, "Oui")
"""

from __future__ import annotations

import asyncio
import atexit
import fcntl
import hashlib
import itertools
import json
import os
import secrets
import select
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

import httpx
from telegram.ext import Application

EMULATOR_DIR = Path(__file__).resolve().parent / "telegram_emulator"
LAUNCHER = EMULATOR_DIR / "launch.js"
EMULATOR_VERSION = "4.2.1"
DEFAULT_TIMEOUT = 5.0
POLL_INTERVAL = 0.02

_PACKAGE_JSON = EMULATOR_DIR / "node_modules" / "telegram-test-api" / "package.json"
_INSTALL_STAMP = EMULATOR_DIR / "node_modules" / ".youthvoice-install-stamp"

FailureKind = Literal["flood", "blocked", "bad_gateway", "drop"]
"""flood: HTTP 429 with retry_after; blocked: HTTP 403 "bot was blocked by the user";
bad_gateway: HTTP 502; drop: the connection is closed without an answer."""

T = TypeVar("T")


class EmulatorError(RuntimeError):
    """The emulator could not be installed or started, or refused a test-side request."""


def _install_digest() -> str:
    digest = hashlib.sha256()
    for name in ("package.json", "package-lock.json", ".npmrc"):
        digest.update((EMULATOR_DIR / name).read_bytes())
    return digest.hexdigest()


def _is_installed(digest: str) -> bool:
    return (
        _PACKAGE_JSON.is_file()
        and _INSTALL_STAMP.is_file()
        and _INSTALL_STAMP.read_text() == digest
        and json.loads(_PACKAGE_JSON.read_text())["version"] == EMULATOR_VERSION
    )


def ensure_emulator_installed() -> None:
    """Install the emulator's npm packages from the lock file unless they already match it.

    A stamp in node_modules records the lock file it was installed from, so an unchanged
    install costs a few file reads. A file lock keeps parallel test processes from running
    `npm ci` over each other.
    """
    digest = _install_digest()
    if _is_installed(digest):
        return
    key = hashlib.sha256(str(EMULATOR_DIR).encode()).hexdigest()[:16]
    lock_path = Path(tempfile.gettempdir()) / f"youthvoice-telegram-emulator-{key}.lock"
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _is_installed(digest):
            return
        npm = shutil.which("npm")
        if npm is None:
            raise EmulatorError("npm is not on PATH: the Telegram emulator needs Node.js 20+")
        result = subprocess.run(
            [npm, "ci", "--prefer-offline", "--no-audit", "--no-fund"],
            cwd=EMULATOR_DIR,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if result.returncode != 0:
            raise EmulatorError(f"npm ci failed in {EMULATOR_DIR}:\n{result.stderr[-4000:]}")
        _INSTALL_STAMP.write_text(digest)


@dataclass
class Emulator:
    """A running emulator process; `stop()` ends it (it also ends when this process exits)."""

    url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    startup_seconds: float

    def bot(self, token: str | None = None) -> EmulatedBot:
        """A bot of its own: the emulator keeps every chat, update and call per token."""
        return EmulatedBot(self.url, token or new_bot_token())

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        atexit.unregister(self.stop)
        if self.process.poll() is None:
            # Closing its stdin is the launcher's signal to shut down.
            if self.process.stdin is not None:
                self.process.stdin.close()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()
        self.log_path.unlink(missing_ok=True)

    def __enter__(self) -> Emulator:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def new_bot_token() -> str:
    """A token shaped like Telegram's: the bot id, a colon, 35 URL-safe characters."""
    bot_id = 1_000_000_000 + secrets.randbelow(8_999_999_999)
    return f"{bot_id}:{secrets.token_urlsafe(27)[:35]}"


def _read_ready_line(process: subprocess.Popen[bytes], deadline: float) -> str:
    assert process.stdout is not None
    descriptor = process.stdout.fileno()
    received = b""
    while b"\n" not in received:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise EmulatorError("the Telegram emulator did not start in time")
        readable, _, _ = select.select([descriptor], [], [], remaining)
        if readable:
            chunk = os.read(descriptor, 4096)
            if not chunk:
                raise EmulatorError(f"the Telegram emulator exited with {process.wait()}")
            received += chunk
    return received.split(b"\n", 1)[0].decode()


def start_emulator(port: int | None = None, *, timeout: float = 15.0) -> Emulator:
    """Start the emulator on 127.0.0.1 (a free port unless `port` is given) and wait for it."""
    ensure_emulator_installed()
    node = shutil.which("node")
    if node is None:
        raise EmulatorError("node is not on PATH: the Telegram emulator needs Node.js 20+")
    started = time.monotonic()
    with tempfile.NamedTemporaryFile(prefix="telegram-emulator-", suffix=".log", delete=False) as log_file:
        process = subprocess.Popen(
            [node, str(LAUNCHER), "--port", str(port or 0), "--exit-with-stdin"],
            cwd=EMULATOR_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log_file,
        )
    log_path = Path(log_file.name)
    try:
        ready = json.loads(_read_ready_line(process, started + timeout))
    except BaseException as error:
        process.kill()
        process.wait()
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                stream.close()
        raise EmulatorError(f"{error}\n{log_path.read_text(errors='replace')}") from error
    emulator = Emulator(
        url=ready["url"],
        process=process,
        log_path=log_path,
        startup_seconds=time.monotonic() - started,
    )
    atexit.register(emulator.stop)
    return emulator


@dataclass(frozen=True)
class InlineButton:
    text: str
    callback_data: str | None = None
    url: str | None = None


Keyboard = tuple[tuple[InlineButton, ...], ...]


def _keyboard(markup: dict[str, Any] | None) -> Keyboard:
    rows = (markup or {}).get("inline_keyboard", [])
    return tuple(
        tuple(InlineButton(button["text"], button.get("callback_data"), button.get("url")) for button in row)
        for row in rows
    )


@dataclass(frozen=True)
class MessageVersion:
    """A message as one Bot API call left it (sendMessage, then each edit)."""

    method: str
    date: int
    text: str | None
    keyboard: Keyboard


@dataclass(frozen=True)
class BotMessage:
    """A message the bot sent to a chat, as it is now (after any edits).

    `text` is what the user sees: HTML markup is removed, as Telegram does.
    """

    message_id: int
    chat_id: int
    date: int
    text: str | None
    keyboard: Keyboard
    edit_date: int | None
    versions: tuple[MessageVersion, ...]
    raw: dict[str, Any] = field(repr=False)

    @classmethod
    def from_emulator(cls, item: dict[str, Any]) -> BotMessage:
        message = item["message"]
        return cls(
            message_id=message["message_id"],
            chat_id=message["chat"]["id"],
            date=message["date"],
            text=message.get("text"),
            keyboard=_keyboard(message.get("reply_markup")),
            edit_date=message.get("edit_date"),
            versions=tuple(
                MessageVersion(v["method"], v["date"], v["text"], _keyboard(v["reply_markup"]))
                for v in item["versions"]
            ),
            raw=message,
        )

    @property
    def edited(self) -> bool:
        return self.edit_date is not None

    @property
    def buttons(self) -> list[InlineButton]:
        return [button for row in self.keyboard for button in row]

    def button(self, text: str) -> InlineButton:
        for button in self.buttons:
            if button.text == text:
                return button
        labels = [button.text for button in self.buttons]
        raise AssertionError(f"message {self.message_id} has no button {text!r}; it has {labels}")


@dataclass(frozen=True)
class ApiCall:
    """One Bot API request the bot made (getUpdates excepted), as the emulator received it.

    `params` holds the raw form values: PTB JSON-encodes non-string values. `status` is the HTTP
    status answered, 0 for a dropped connection, None while the request is still open.
    """

    method: str
    params: dict[str, Any]
    at: float
    status: int | None

    def json_param(self, name: str) -> Any:
        value = self.params[name]
        return json.loads(value) if isinstance(value, str) else value


def without_buttons(message_id: int) -> Callable[[list[BotMessage]], BotMessage | None]:
    """For `wait_until`: that message, once its buttons were taken off."""
    return lambda ms: next((m for m in ms if m.message_id == message_id and not m.buttons), None)


async def _post(http: httpx.AsyncClient, path: str, payload: dict[str, Any]) -> Any:
    response = await http.post(path, json=payload)
    body = response.json()
    if response.status_code != 200 or not body.get("ok"):
        raise EmulatorError(f"{path}: {body.get('description', response.text)}")
    return body["result"]


async def _calls(http: httpx.AsyncClient, token: str, method: str | None) -> list[ApiCall]:
    result = await _post(http, "/control/calls", {"token": token, "method": method})
    return [ApiCall(c["method"], c["params"], c["at"], c["status"]) for c in result]


class EmulatedBot:
    """The emulator as seen by the tests of one bot token: its users, its calls, injected faults.

    Use as an async context manager or call `aclose()`.
    """

    def __init__(self, emulator_url: str, token: str) -> None:
        self.url = emulator_url
        self.token = token
        # trust_env=False: a proxy from the environment must never see loopback test traffic.
        self._http = httpx.AsyncClient(base_url=emulator_url, timeout=10.0, trust_env=False)
        self._user_ids = itertools.count(100_001)

    @property
    def base_url(self) -> str:
        """For ApplicationBuilder.base_url: PTB appends the token to it."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        return f"{self.url}/file/bot"

    def user(
        self,
        *,
        first_name: str = "Camille",
        language_code: str | None = "fr",
        username: str | None = None,
        user_id: int | None = None,
    ) -> TelegramUser:
        """A Telegram user in a private chat with the bot (chat id = user id, as on Telegram)."""
        return TelegramUser(
            self._http,
            self.token,
            user_id=next(self._user_ids) if user_id is None else user_id,
            first_name=first_name,
            language_code=language_code,
            username=username,
        )

    async def inject_failure(
        self,
        kind: FailureKind,
        *,
        method: str = "sendMessage",
        chat_id: int | None = None,
        times: int | None = 1,
        retry_after: int = 1,
    ) -> None:
        """Make the next `times` calls of `method` (to `chat_id`, or any chat) fail.

        `times=None` fails every call until `clear_failures()`, as a user who blocked the bot.
        """
        rule: dict[str, Any] = {
            "token": self.token,
            "kind": kind,
            "method": method,
            "times": times,
            "retry_after": retry_after,
        }
        if chat_id is not None:
            rule["chat_id"] = chat_id
        await _post(self._http, "/control/fail", rule)

    async def limit_rate(self, per_second: float | None, *, burst: float | None = None,
                         retry_after: int = 1) -> int:
        """Telegram's flood limit: above `per_second` calls to chats (bursts up to `burst`, by
        default one second's worth) the emulator answers 429 with `retry_after`. None lifts it.

        Returns how many calls the limit has refused so far.
        """
        body: dict[str, Any] = {"token": self.token, "per_second": per_second, "retry_after": retry_after}
        if burst is not None:
            body["burst"] = burst
        result = await _post(self._http, "/control/limit", body)
        return int(result["refused"])

    async def refused_by_limit(self) -> int:
        """How many calls the flood limit has refused (429) so far."""
        result = await _post(self._http, "/control/limit", {"token": self.token})
        return int(result["refused"])

    async def clear_failures(self) -> None:
        await _post(self._http, "/control/clearFailures", {"token": self.token})

    async def calls(self, method: str | None = None) -> list[ApiCall]:
        """The Bot API calls this bot made, oldest first, optionally of one method."""
        return await _calls(self._http, self.token, method)

    async def sent_messages(self, chat_id: int) -> list[BotMessage]:
        """What the bot sent to a chat, oldest first, each as it is now."""
        result = await _post(self._http, "/user/messages", {"token": self.token, "chat_id": chat_id})
        return [BotMessage.from_emulator(item) for item in result]

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> EmulatedBot:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()


class TelegramUser:
    """A person writing to the bot in a private chat, and what they see of the chat.

    The send methods return the message id Telegram would give the user's message. The wait
    methods poll the emulator until a condition holds or `timeout` seconds pass, then fail the
    test with the chat so far.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        token: str,
        *,
        user_id: int,
        first_name: str,
        language_code: str | None,
        username: str | None,
    ) -> None:
        self._http = http
        self._token = token
        self.user_id = user_id
        self.first_name = first_name
        self.language_code = language_code
        self.username = username
        self._seen_message_id = 0

    @property
    def chat_id(self) -> int:
        return self.user_id

    def as_telegram_user(self) -> dict[str, Any]:
        user: dict[str, Any] = {"id": self.user_id, "is_bot": False, "first_name": self.first_name}
        if self.username is not None:
            user["username"] = self.username
        if self.language_code is not None:
            user["language_code"] = self.language_code
        return user

    def _chat(self) -> dict[str, Any]:
        chat: dict[str, Any] = {"id": self.chat_id, "type": "private", "first_name": self.first_name}
        if self.username is not None:
            chat["username"] = self.username
        return chat

    async def _send(self, content: dict[str, Any]) -> int:
        message = {"from": self.as_telegram_user(), "chat": self._chat(), **content}
        result = await _post(self._http, "/user/send", {"token": self._token, "message": message})
        return int(result["message_id"])

    async def send_text(self, text: str) -> int:
        return await self._send({"text": text})

    async def send_command(self, command: str, argument: str = "") -> int:
        """`send_command("start", "ref42")` sends "/start ref42" marked as a bot command."""
        name = f"/{command.removeprefix('/')}"
        text = f"{name} {argument}" if argument else name
        entity = {"type": "bot_command", "offset": 0, "length": len(name)}
        return await self._send({"text": text, "entities": [entity]})

    async def send_sticker(self, emoji: str = "👍") -> int:
        unique = secrets.token_hex(8)
        sticker = {
            "file_id": f"sticker-{unique}",
            "file_unique_id": unique,
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
        }
        return await self._send({"sticker": sticker})

    async def send_photo(self, caption: str | None = None) -> int:
        """A photo in two sizes, as Telegram sends it. The bot cannot download it (no getFile)."""
        unique = secrets.token_hex(8)
        sizes = [
            {
                "file_id": f"photo-{unique}-{w}",
                "file_unique_id": f"{unique}{w}",
                "width": w,
                "height": h,
                "file_size": w * h // 10,
            }
            for w, h in ((90, 67), (800, 600))
        ]
        content: dict[str, Any] = {"photo": sizes}
        if caption is not None:
            content["caption"] = caption
        return await self._send(content)

    async def send_location(self, latitude: float, longitude: float) -> int:
        return await self._send({"location": {"latitude": latitude, "longitude": longitude}})

    async def press_button(self, message: BotMessage, text: str) -> str:
        """Press the inline button labelled `text`; returns the callback query id."""
        data = message.button(text).callback_data
        if data is None:
            raise AssertionError(f"button {text!r} is not a callback button")
        return await self.press_callback(message, data)

    async def press_callback(self, message: BotMessage, data: str) -> str:
        """Press the inline button of `message` that carries callback_data `data`."""
        result = await _post(
            self._http,
            "/user/press",
            {
                "token": self._token,
                "from": self.as_telegram_user(),
                "chat_id": message.chat_id,
                "message_id": message.message_id,
                "data": data,
            },
        )
        return str(result["callback_query_id"])

    async def messages(self) -> list[BotMessage]:
        """Every message the bot sent to this chat, oldest first, each as it is now."""
        result = await _post(self._http, "/user/messages", {"token": self._token, "chat_id": self.chat_id})
        return [BotMessage.from_emulator(item) for item in result]

    async def wait_until(
        self,
        condition: Callable[[list[BotMessage]], T | None],
        *,
        timeout: float = DEFAULT_TIMEOUT,
        what: str = "the condition",
        every: float = POLL_INTERVAL,
    ) -> T:
        """Poll the chat (every `every` s) until `condition(messages)` returns something truthy."""
        deadline = time.monotonic() + timeout
        while True:
            messages = await self.messages()
            result = condition(messages)
            if result:
                return result
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"{what} did not happen within {timeout}s; the bot sent:\n" + _transcript(messages)
                )
            await asyncio.sleep(every)

    async def next_message(self, *, timeout: float = DEFAULT_TIMEOUT) -> BotMessage:
        """The oldest bot message this user has not had from next_message yet."""

        def unseen(messages: list[BotMessage]) -> BotMessage | None:
            return next((m for m in messages if m.message_id > self._seen_message_id), None)

        message = await self.wait_until(unseen, timeout=timeout, what="a new bot message")
        self._seen_message_id = message.message_id
        return message

    async def wait_for_edit(self, message: BotMessage, *, timeout: float = DEFAULT_TIMEOUT) -> BotMessage:
        """`message` once the bot has edited it again; returns its new state."""

        def edited(messages: list[BotMessage]) -> BotMessage | None:
            return next(
                (
                    m
                    for m in messages
                    if m.message_id == message.message_id and len(m.versions) > len(message.versions)
                ),
                None,
            )

        return await self.wait_until(edited, timeout=timeout, what=f"an edit of message {message.message_id}")

    async def wait_for_callback_answer(
        self, callback_query_id: str, *, timeout: float = DEFAULT_TIMEOUT
    ) -> ApiCall:
        """The bot's successful answerCallbackQuery for a pressed button (text, show_alert...)."""
        deadline = time.monotonic() + timeout
        while True:
            for call in await _calls(self._http, self._token, "answerCallbackQuery"):
                if call.params.get("callback_query_id") == callback_query_id and call.status == 200:
                    return call
            if time.monotonic() >= deadline:
                raise AssertionError(f"callback query {callback_query_id} was not answered within {timeout}s")
            await asyncio.sleep(POLL_INTERVAL)


def _transcript(messages: list[BotMessage]) -> str:
    if not messages:
        return "  (nothing)"
    lines = []
    for message in messages:
        labels = " ".join(f"[{button.text}]" for button in message.buttons)
        lines.append(f"  #{message.message_id}: {message.text!r} {labels}".rstrip())
    return "\n".join(lines)


Mode = Literal["polling", "webhook"]
# The bot type differs with and without a rate limiter; the helpers need neither's specifics.
AnyApplication = Application[Any, Any, Any, Any, Any, Any]
SECRET = "s3cret-token_for-tests"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@asynccontextmanager
async def running(app: AnyApplication, mode: Mode, port: int | None = None) -> AsyncIterator[None]:
    """Run `app` in the test's event loop, by long polling or behind a webhook on loopback."""
    assert app.updater is not None
    async with app:
        if mode == "polling":
            await app.updater.start_polling()
        else:
            port = port or free_port()
            await app.updater.start_webhook(
                listen="127.0.0.1",
                port=port,
                url_path="telegram",
                webhook_url=f"http://127.0.0.1:{port}/telegram",
                secret_token=SECRET,
            )
        await app.start()
        try:
            yield
        finally:
            await app.updater.stop()
            await app.stop()
