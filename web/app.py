"""The console as an ASGI application: routes, static files and the security headers of every page."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.app import App
from bot.campaigns import LiveCatalogue
from web import admin, auth, campaigns, council, home, partner, public, safeguarding
from web.i18n import LANGUAGES, environment, load_translations
from web.pages import Console
from web.results import ResultsCache
from web.settings import WebSettings

STATIC_DIR = Path(__file__).parent / "static"

# No script runs on any page, and nothing is loaded from elsewhere: an answer that contains HTML
# cannot do anything even if it ever slipped through escaping.
SECURITY_HEADERS = [
    (b"content-security-policy",
     b"default-src 'none'; style-src 'self'; img-src 'self' data:; frame-src 'self'; form-action 'self'; "
     b"frame-ancestors 'none'; base-uri 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
]


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name for name, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []),
                                      *(h for h in SECURITY_HEADERS if h[0] not in present)]
            await send(message)

        await self.app(scope, receive, with_headers)


def build_console(app: App, settings: WebSettings, clock: Callable[[], datetime] | None = None) -> Console:
    translations = {language: load_translations(language) for language in LANGUAGES}
    clock = clock or app.service.clock
    return Console(config=app.config, sessions=app.sessions, settings=settings,
                   environments={language: environment(language, translations[language])
                                 for language in LANGUAGES},
                   translations=translations,
                   context=app.context, clock=clock,
                   catalogue=LiveCatalogue(app.sessions, app.config, every=0),
                   results=ResultsCache(app.sessions, app.config))


def create_app(console: Console) -> Starlette:
    routes: list[Route | Mount] = [
        *home.ROUTES,
        *auth.ROUTES,
        *admin.ROUTES,
        *partner.ROUTES,
        *campaigns.ROUTES,
        *safeguarding.ROUTES,
        *council.ROUTES,
        *public.ROUTES,
        Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static"),
    ]
    application = Starlette(routes=routes, middleware=[Middleware(SecurityHeaders)],
                            exception_handlers={404: _not_found})
    application.state.console = console
    return application


async def _not_found(_request: object, _exc: Exception) -> Response:
    return Response("Not found", status_code=404, media_type="text/plain")
