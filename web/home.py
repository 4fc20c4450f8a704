"""The first page after signing in: each role lands where its work is."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from web.pages import Page, page

LANDING = {"admin": "/admin/users", "partner": "/campaigns",
           "safeguarding": "/alerts", "council": "/council"}


@page("admin", "partner", "council", "safeguarding")
def home(current: Page) -> Response:
    assert current.user is not None
    landing = LANDING.get(current.user.role)
    if landing is not None:
        return current.redirect(landing)
    return current.render("home.html")


ROUTES = [Route("/", home, methods=["GET"])]
