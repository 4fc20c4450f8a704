"""python-telegram-bot's networking on aiohttp instead of httpx.

Why: httpx/httpcore/anyio took ~60% of the bot's CPU (4 Bot API calls a turn). CPU per BaseRequest.post()
to a local server (2,000 sequential form POSTs, Python 3.11): httpx 0.28 ~770 µs, aiohttp 3.14 ~250 µs.
The wire format is HTTPXRequest's: form-encoded parameters (values JSON-encoded by PTB),
multipart/form-data when files are uploaded.
"""

from __future__ import annotations

import asyncio
import urllib.request
from urllib.parse import urlsplit

import aiohttp
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

POOL_FULL = (
    "Pool timeout: All connections in the connection pool are occupied. Request was *not* sent to "
    "Telegram. Consider adjusting the connection pool size or the pool timeout."
)
_FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _timeout(read: float | None, connect: float | None) -> aiohttp.ClientTimeout:
    # `connect` also bounds the wait for a connector slot: never forever, even if one leaked.
    return aiohttp.ClientTimeout(total=None, connect=connect, sock_connect=connect, sock_read=read)


class AiohttpRequest(BaseRequest):
    """A BaseRequest on one aiohttp.ClientSession, with HTTPXRequest's timeouts and errors.

    Timeouts, as HTTPXRequest's: `connect` per connection attempt, `read` between bytes received
    (PTB lengthens it for getUpdates' long poll), `pool` to wait for a free connection (the pool
    is a semaphore here, so a full pool is told apart from a slow server). aiohttp has no
    per-write timeout: `write_timeout` and `media_write_timeout` are accepted for compatibility but
    not enforced (the bot's bodies are small forms that fit the socket buffer).
    """

    __slots__ = ("_connect", "_default_timeout", "_keep_body", "_pool", "_pool_size", "_proxies", "_read",
                 "_session", "_slots", "last_body")

    def __init__(
        self,
        connection_pool_size: int = 256,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        media_write_timeout: float | None = 20.0,
        *,
        keep_last_body: bool = False,
    ) -> None:
        """``keep_last_body``: keep the raw body of the last answer in ``last_body`` (the long poll
        writes exactly what Telegram sent to disk, without serialising the parsed updates again)."""
        if connection_pool_size < 1:
            raise ValueError("connection_pool_size must be at least 1")
        del write_timeout, media_write_timeout  # see the class docstring
        self._pool_size = connection_pool_size
        self._read = read_timeout
        self._connect = connect_timeout
        self._pool = pool_timeout
        self._default_timeout = _timeout(read_timeout, connect_timeout)
        self._slots = asyncio.Semaphore(connection_pool_size)
        self._session: aiohttp.ClientSession | None = None
        self._proxies: dict[tuple[str, str], str | None] = {}
        self._keep_body = keep_last_body
        self.last_body = b""

    @property
    def read_timeout(self) -> float | None:
        return self._read

    def _proxy_for(self, url: str) -> str | None:
        """HTTPS_PROXY / NO_PROXY from the environment, as httpx honoured them; looked up once per
        host (aiohttp's trust_env would re-read them, and ~/.netrc, on every request)."""
        parts = urlsplit(url)
        key = (parts.scheme, parts.hostname or "")
        if key not in self._proxies:
            bypass = bool(key[1]) and urllib.request.proxy_bypass(key[1])
            self._proxies[key] = None if bypass else urllib.request.getproxies().get(key[0])
        return self._proxies[key]

    def _open(self) -> aiohttp.ClientSession:
        # A new semaphore too: both belong to the event loop that opens them.
        self._slots = asyncio.Semaphore(self._pool_size)
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self._pool_size),
            headers={"User-Agent": self.USER_AGENT},
            timeout=self._default_timeout,
        )
        return self._session

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            self._open()

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        session = self._session
        if session is None:
            # Like HTTPXRequest, whose client exists from construction, usable before initialize().
            session = self._open()
        elif session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")

        if isinstance(read_timeout, DefaultValue):
            read_timeout = self._read
        if isinstance(connect_timeout, DefaultValue):
            connect_timeout = self._connect
        if isinstance(pool_timeout, DefaultValue):
            pool_timeout = self._pool
        timeout = (self._default_timeout if read_timeout == self._read and connect_timeout == self._connect
                   else _timeout(read_timeout, connect_timeout))

        data: aiohttp.FormData | bytes | None = None
        headers: dict[str, str] | None = None
        if request_data is not None:
            if request_data.contains_files:
                form = aiohttp.FormData()
                for name, value in request_data.json_parameters.items():
                    form.add_field(name, value)
                for name, (filename, content, mimetype) in request_data.multipart_data.items():
                    form.add_field(name, content, filename=filename, content_type=mimetype)
                data = form
            else:
                body = request_data.url_encoded_parameters()
                if body:
                    data, headers = body.encode(), _FORM

        slots = self._slots
        if slots.locked():
            try:
                async with asyncio.timeout(pool_timeout):
                    await slots.acquire()
            except TimeoutError as exc:
                raise TimedOut(POOL_FULL) from exc
        else:
            await slots.acquire()
        try:
            async with session.request(method, url, data=data, headers=headers, timeout=timeout,
                                       proxy=self._proxy_for(url)) as response:
                content = await response.read()
                if self._keep_body:
                    self.last_body = content
                return response.status, content
        except TimeoutError as exc:  # asyncio.TimeoutError and aiohttp.ServerTimeoutError included
            raise TimedOut from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise NetworkError(f"aiohttp.{exc.__class__.__name__}: {exc}") from exc
        finally:
            slots.release()
