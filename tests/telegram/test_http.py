"""AiohttpRequest, python-telegram-bot's networking on aiohttp: against a real server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from telegram import Bot, InputFile
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData
from telegram.request._requestparameter import RequestParameter

from bot.channels.telegram_http import AiohttpRequest
from tests.support.telegram import EmulatedBot, TelegramUser


@dataclass
class Received:
    """What the test server saw of each request."""

    headers: list[dict[str, str]] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    forms: list[dict[str, object]] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class Server:
    url: str
    received: Received


def request_data(**params: object) -> RequestData:
    return RequestData([RequestParameter.from_input(name, value) for name, value in params.items()])


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    received = Received()

    async def echo(request: web.Request) -> web.Response:
        received.headers.append(dict(request.headers))
        received.bodies.append(await request.read())
        status = int(request.query.get("status", 200))
        return web.json_response({"ok": True, "result": {"path": request.path}}, status=status)

    async def upload(request: web.Request) -> web.Response:
        form: dict[str, object] = {}
        for name, value in (await request.post()).items():
            if isinstance(value, web.FileField):
                form[name] = (value.filename, value.file.read(), value.content_type)
            else:
                form[name] = value
        received.forms.append(form)
        return web.json_response({"ok": True, "result": True})

    async def slow(request: web.Request) -> web.Response:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(received.release.wait(), float(request.query["delay"]))
        return web.json_response({"ok": True, "result": "late"})

    app = web.Application()
    app.router.add_post("/echo", echo)
    app.router.add_post("/upload", upload)
    app.router.add_post("/slow", slow)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield Server(f"http://{host}:{port}", received)
    finally:
        received.release.set()
        await runner.cleanup()


@pytest.fixture
async def request_() -> AsyncIterator[AiohttpRequest]:
    request = AiohttpRequest()
    await request.initialize()
    yield request
    await request.shutdown()


async def test_a_call_returns_the_status_and_body_and_sends_a_form(
        server: Server, request_: AiohttpRequest) -> None:
    data = request_data(chat_id=42, text="Bonjour à tous & bienvenue",
                        reply_markup={"inline_keyboard": [[{"text": "Oui", "callback_data": "y"}]]})

    status, body = await request_.do_request(f"{server.url}/echo", "POST", data)
    assert status == 200
    assert json.loads(body) == {"ok": True, "result": {"path": "/echo"}}

    headers = server.received.headers[0]
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert headers["User-Agent"] == BaseRequest.USER_AGENT
    # The same bytes HTTPXRequest sends: PTB's JSON-encoded values, URL-encoded.
    assert server.received.bodies[0] == data.url_encoded_parameters().encode()

    status, body = await request_.do_request(f"{server.url}/echo?status=404", "POST", request_data())
    assert status == 404
    assert json.loads(body)["ok"] is True
    assert server.received.bodies[1] == b""


async def test_post_parses_the_result(server: Server, request_: AiohttpRequest) -> None:
    assert await request_.post(f"{server.url}/echo", request_data(offset=3)) == {"path": "/echo"}


async def test_a_file_upload_arrives_with_its_name_content_and_the_other_fields(
        server: Server, request_: AiohttpRequest) -> None:
    data = request_data(chat_id=42, caption="Résultats",
                        document=InputFile(b"id;answer\n1;On foot\n", filename="answers.csv"))
    assert data.contains_files

    status, _ = await request_.do_request(f"{server.url}/upload", "POST", data)

    assert status == 200
    assert server.received.forms == [{
        "chat_id": "42",
        "caption": "Résultats",
        "document": ("answers.csv", b"id;answer\n1;On foot\n", "text/csv"),
    }]


async def test_a_server_slower_than_the_read_timeout_times_out(server: Server) -> None:
    request = AiohttpRequest(read_timeout=0.2)
    await request.initialize()
    try:
        with pytest.raises(TimedOut):
            await request.do_request(f"{server.url}/slow?delay=3", "POST")
        # A longer read timeout for one call (as PTB gives getUpdates) is honoured.
        status, body = await request.do_request(f"{server.url}/slow?delay=0.4", "POST", read_timeout=2.0)
        assert (status, json.loads(body)["result"]) == (200, "late")
    finally:
        await request.shutdown()


async def test_a_full_pool_times_out_without_sending(server: Server) -> None:
    request = AiohttpRequest(connection_pool_size=1, pool_timeout=0.1)
    await request.initialize()
    try:
        busy = asyncio.create_task(request.do_request(f"{server.url}/slow?delay=3", "POST"))
        await asyncio.sleep(0.1)
        with pytest.raises(TimedOut, match="Pool timeout"):
            await request.do_request(f"{server.url}/echo", "POST")
        assert server.received.bodies == []
        server.received.release.set()
        assert (await busy)[0] == 200
        # The connection is free again.
        assert (await request.do_request(f"{server.url}/echo", "POST"))[0] == 200
    finally:
        await request.shutdown()


async def test_a_closed_port_is_a_network_error(request_: AiohttpRequest) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(NetworkError, match=r"^aiohttp\.ClientConnectorError") as raised:
        await request_.do_request(f"http://127.0.0.1:{port}/echo", "POST")
    assert not isinstance(raised.value, TimedOut)


async def test_shutdown_closes_the_session(server: Server) -> None:
    request = AiohttpRequest()
    await request.initialize()
    assert (await request.do_request(f"{server.url}/echo", "POST"))[0] == 200
    session = request._session
    assert session is not None

    await request.shutdown()

    assert session.closed
    with pytest.raises(RuntimeError, match="not initialized"):
        await request.do_request(f"{server.url}/echo", "POST")
    await request.shutdown()  # twice is harmless
    await request.initialize()  # and it can start again, as HTTPXRequest can
    try:
        assert (await request.do_request(f"{server.url}/echo", "POST"))[0] == 200
    finally:
        await request.shutdown()


@pytest.mark.telegram
async def test_a_bot_on_aiohttp_talks_to_the_emulator(
        telegram_bot: EmulatedBot, telegram_user: TelegramUser) -> None:
    bot = Bot(telegram_bot.token, base_url=telegram_bot.base_url,
              request=AiohttpRequest(), get_updates_request=AiohttpRequest(connection_pool_size=1))
    async with bot:
        me = await bot.get_me()
        assert me.is_bot
        assert me.id == int(telegram_bot.token.split(":")[0])

        await telegram_user.send_text("Salut")
        updates = await bot.get_updates(timeout=1)
        assert [u.message.text for u in updates if u.message] == ["Salut"]

        sent = await bot.send_message(telegram_user.chat_id, "Bonjour ! Prêt·e ?")
        assert sent.chat.id == telegram_user.chat_id
    messages = await telegram_user.messages()
    assert [m.text for m in messages] == ["Bonjour ! Prêt·e ?"]


async def test_the_proxy_from_the_environment_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []

    async def proxy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append((await reader.readline()).decode().strip())
        while (await reader.readline()) not in (b"\r\n", b""):
            pass
        body = b'{"ok": true, "result": true}'
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                     + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)
        await writer.drain()
        writer.close()

    listening = await asyncio.start_server(proxy, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    request = AiohttpRequest()
    await request.initialize()
    try:
        status, body = await request.do_request("http://telegram.invalid/botTOKEN/getMe", "POST")
    finally:
        await request.shutdown()
        listening.close()
    assert (status, json.loads(body)) == (200, {"ok": True, "result": True})
    assert seen == ["POST http://telegram.invalid/botTOKEN/getMe HTTP/1.1"]
