"""What every page shares: who is signed in, in which language, CSRF checks, and one database
transaction per request (run in a worker thread: the storage layer is synchronous)."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from gettext import GNUTranslations
from typing import Any
from urllib.parse import quote, urlsplit

from itsdangerous import BadSignature, Signer
from jinja2 import Environment
from markupsafe import Markup
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from bot.campaigns import LiveCatalogue, PublishError
from bot.config import AppConfig
from bot.engine.loader import Problem
from bot.engine.turn import Context
from digests.model import Digest
from storage import staff_repository as staff
from storage.staff import StaffUser
from web.i18n import LANGUAGES, best_language
from web.renders import RenderedCharts
from web.results import ResultsCache
from web.settings import WebSettings
from web.times import Places

SESSION_COOKIE = "yv_session"
CSRF_COOKIE = "yv_csrf"
LANGUAGE_COOKIE = "yv_lang"
CSRF_FIELD = "csrf"
# A session's last use is kept to the minute: a write on every page view would compete with the bot's
# workers for the database (SQLite has one writer at a time).
LAST_SEEN_EVERY = timedelta(minutes=1)
# An uploaded campaign file is a few kilobytes; anything far larger is a mistake.
MAX_UPLOAD_BYTES = 512 * 1024


@dataclass
class Console:
    """Everything the pages need, built once per process."""

    config: AppConfig
    sessions: sessionmaker[Session]
    settings: WebSettings
    environments: Mapping[str, Environment]
    translations: Mapping[str, GNUTranslations]
    context: Context
    clock: Callable[[], datetime]
    # Reloaded whenever the stored campaigns changed (checked on every read: the pages show live state).
    catalogue: LiveCatalogue
    # The results pages' counts, kept between requests.
    results: ResultsCache
    # The results' charts, drawn once per kept digest and language.
    charts: RenderedCharts = field(default_factory=RenderedCharts)
    session_signer: Signer = field(init=False)
    csrf_signer: Signer = field(init=False)
    # Whose local time each page shows (a city's, or the default city's).
    places: Places = field(init=False)

    def __post_init__(self) -> None:
        self.places = Places(self.config)
        self.session_signer = Signer(self.settings.secret_key, salt="youthvoice.session")
        self.csrf_signer = Signer(self.settings.secret_key, salt="youthvoice.csrf")


class Forbidden(Exception):
    """Raised by a page for something the signed-in account may not see; answered with a 403 page."""


class NotFound(Exception):
    """Raised by a page for something that does not exist (or is not the reader's to know of)."""


@dataclass
class Page:
    console: Console
    request: Request
    user: StaffUser | None
    language: str
    csrf_token: str
    form: FormData | None
    now: datetime
    session_id: str | None
    cookies: list[tuple[str, str, int | None]] = field(default_factory=list)
    deleted_cookies: list[str] = field(default_factory=list)
    # Pages without forms (the public results) set no cookie at all.
    has_forms: bool = True
    _session: Session | None = None

    @property
    def db(self) -> Session:
        """The page's own transaction, opened when first needed, committed when the page is done.

        Lazily: a page that calls a service which runs its own transaction (safeguarding, digests)
        must not hold one meanwhile (SQLite has one writer at a time).
        """
        if self._session is None:
            self._session = self.console.sessions()
            self._session.begin()
        return self._session

    def finish_transaction(self, commit: bool) -> None:
        if self._session is None:
            return
        try:
            if commit:
                self._session.commit()
            else:
                self._session.rollback()
        finally:
            self._session.close()
            self._session = None

    @property
    def config(self) -> AppConfig:
        return self.console.config

    def tr(self, message: str, **values: Any) -> str:
        text = self.console.translations[self.language].gettext(message)
        return text % values if values else text

    def said(self, message: Problem | PublishError) -> str:
        """A checker's or a refusal's message (the bot's catalog) in the reader's language."""
        catalog = self.console.context.catalog
        if isinstance(message, PublishError):
            return message.in_(catalog, self.language)
        return message.message_in(catalog, self.language)

    def field(self, name: str) -> str:
        value = self.form.get(name) if self.form is not None else None
        return value.strip() if isinstance(value, str) else ""

    def render(self, template: str, status: int = 200, **values: Any) -> Response:
        env = self.console.environments[self.language]
        body = env.get_template(template).render(
            user=self.user, csrf_token=self.csrf_token, request_path=self.return_path(),
            now=self.now, said=self.said, place=self.console.places, **values)
        return HTMLResponse(body, status_code=status)

    def charts(self, results: Digest, *, breakdowns: bool = False, headings: bool = False) -> Markup:
        """The charts of ``results`` (a digest in the reader's language), drawn once per digest."""
        return self.console.charts.charts(self.console.environments[self.language], results,
                                          breakdowns=breakdowns, headings=headings)

    def return_path(self) -> str:
        """Where to come back to after switching language: this page, or for the answer to a form,
        the page that had the form (a POST cannot be repeated by a redirect)."""
        if self.request.method == "GET":
            path = self.request.url.path
            return f"{path}?{self.request.url.query}" if self.request.url.query else path
        referer = urlsplit(self.request.headers.get("referer", ""))
        if referer.netloc == self.request.url.netloc and referer.path.startswith("/"):
            return referer.path
        return "/"

    def redirect(self, url: str) -> Response:
        return RedirectResponse(url, status_code=303)

    def audit(self, action: str, target: str, **detail: Any) -> None:
        actor = self.user.email if self.user is not None else "anonymous"
        staff.audit(self.db, actor, action, target, self.now, **detail)

    def set_cookie(self, name: str, value: str, max_age: int | None = None) -> None:
        self.cookies.append((name, value, max_age))

    def start_session(self, user: StaffUser) -> None:
        """Sign in with a new random session id, never one the browser brought (no fixation)."""
        if self.session_id is not None:
            staff.close_session(self.db, self.session_id)
        session_id = secrets.token_urlsafe(32)
        self.csrf_token = secrets.token_urlsafe(32)
        staff.open_session(self.db, user.id, session_id, self.csrf_token, self.now,
                           self.now + self.console.settings.session_lifetime)
        self.session_id = session_id
        self.user = user
        self.language = user.language
        signed = self.console.session_signer.sign(session_id).decode()
        self.set_cookie(SESSION_COOKIE, signed, int(self.console.settings.session_lifetime.total_seconds()))

    def end_session(self) -> None:
        if self.session_id is not None:
            staff.close_session(self.db, self.session_id)
        self.session_id = None
        self.user = None
        self.deleted_cookies.append(SESSION_COOKIE)


Handler = Callable[[Page], Response]
Endpoint = Callable[[Request], Awaitable[Response]]


def page(*roles: str) -> Callable[[Handler], Endpoint]:
    """Make a handler a Starlette endpoint. With roles, only signed-in accounts of those roles get in:
    others are sent to the sign-in page (GET) or refused (anything else)."""

    def wrap(handler: Handler) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            form: FormData | None = None
            if request.method == "POST":
                form = await request.form(max_files=1, max_fields=50, max_part_size=MAX_UPLOAD_BYTES)
            try:
                console: Console = request.app.state.console
                return await run_in_threadpool(_serve, console, request, form, handler, roles)
            finally:
                if form is not None:
                    await form.close()

        endpoint.__name__ = handler.__name__
        endpoint.__doc__ = handler.__doc__
        return endpoint

    return wrap


def _serve(console: Console, request: Request, form: FormData | None, handler: Handler,
           roles: tuple[str, ...]) -> Response:
    now = console.clock()
    with console.sessions.begin() as db:
        session_id, user, csrf_token = _signed_in(console, request, db, now)
    anonymous_csrf = _anonymous_csrf(console, request)
    current = Page(console, request, user, _language(console, request, user),
                   csrf_token or anonymous_csrf or secrets.token_urlsafe(32), form, now, session_id)
    if roles and user is None:
        if request.method == "GET":
            return current.redirect("/login?next=" + quote(request.url.path))
        return _refuse(current, 403)
    if roles and user is not None and user.role not in roles:
        return _refuse(current, 403)
    if request.method == "POST" and not _csrf_ok(current, csrf_token or anonymous_csrf):
        return _finish(current, current.render("error.html", status=403, reason="csrf"))
    try:
        response = handler(current)
    except (Forbidden, NotFound) as refusal:
        current.finish_transaction(commit=False)
        response = _refuse(current, 403 if isinstance(refusal, Forbidden) else 404)
    except BaseException:
        current.finish_transaction(commit=False)
        raise
    else:
        current.finish_transaction(commit=True)
    if (current.has_forms and current.user is None and csrf_token is None
            and anonymous_csrf != current.csrf_token):
        signed = console.csrf_signer.sign(current.csrf_token).decode()
        current.set_cookie(CSRF_COOKIE, signed, None)
    return _finish(current, response)


def _signed_in(console: Console, request: Request, db: Session,
               now: datetime) -> tuple[str | None, StaffUser | None, str | None]:
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None, None, None
    try:
        session_id = console.session_signer.unsign(cookie).decode()
    except BadSignature:
        return None, None, None
    live = staff.live_session(db, session_id, now)
    if live is None:
        return session_id, None, None
    user = staff.get_user(db, live.user_id)
    if user is None or not user.active or user.password_hash is None:
        return session_id, None, None
    if now - live.last_seen_at >= LAST_SEEN_EVERY:
        live.last_seen_at = now
    return session_id, user, live.csrf_token


def _anonymous_csrf(console: Console, request: Request) -> str | None:
    cookie = request.cookies.get(CSRF_COOKIE)
    if not cookie:
        return None
    try:
        return console.csrf_signer.unsign(cookie).decode()
    except BadSignature:
        return None


def _csrf_ok(current: Page, expected: str | None) -> bool:
    submitted = current.field(CSRF_FIELD)
    return expected is not None and bool(submitted) and hmac.compare_digest(submitted, expected)


def _language(console: Console, request: Request, user: StaffUser | None) -> str:
    asked = request.query_params.get("lang")
    if asked in LANGUAGES and user is None:
        return asked
    if user is not None:
        return user.language
    remembered = request.cookies.get(LANGUAGE_COOKIE)
    if remembered in LANGUAGES:
        return remembered
    return best_language(request.headers.get("accept-language", ""), console.config.default_language)


def _refuse(current: Page, status: int) -> Response:
    return _finish(current, current.render("error.html", status=status,
                                           reason="forbidden" if status == 403 else "missing"))


def _finish(current: Page, response: Response) -> Response:
    secure = current.request.url.scheme == "https"
    for name, value, max_age in current.cookies:
        response.set_cookie(name, value, max_age=max_age, httponly=True, samesite="lax", secure=secure)
    for name in current.deleted_cookies:
        response.delete_cookie(name, httponly=True, samesite="lax", secure=secure)
    asked = current.request.query_params.get("lang")
    if current.user is None and asked in LANGUAGES:
        response.set_cookie(LANGUAGE_COOKIE, asked, max_age=365 * 24 * 3600, httponly=True,
                            samesite="lax", secure=secure)
    # Pages carry names of people and answers: never kept by a shared cache or the browser's history.
    response.headers.setdefault("Cache-Control", "no-store")
    return response
