"""Every route, tried by every role and by nobody: only the roles it is for get in."""

from __future__ import annotations

import re

import pytest
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from tests.web.conftest import Site, csrf_of
from web.app import create_app

PUBLIC = "public"
# Who may use each route; a new route fails test_every_route_is_listed until it is added here.
ACCESS: dict[tuple[str, str], set[str]] = {
    ("GET", "/"): {"admin", "partner", "council", "safeguarding"},
    ("GET", "/login"): {PUBLIC},
    ("POST", "/login"): {PUBLIC},
    ("POST", "/logout"): {PUBLIC},
    ("GET", "/password/{token}"): {PUBLIC},
    ("POST", "/password/{token}"): {PUBLIC},
    ("POST", "/language"): {PUBLIC},
    ("GET", "/admin/users"): {"admin"},
    ("POST", "/admin/users"): {"admin"},
    ("POST", "/admin/users/{user_id:int}/link"): {"admin"},
    ("POST", "/admin/users/{user_id:int}/active"): {"admin"},
    ("GET", "/admin/audit"): {"admin"},
    ("GET", "/campaigns/check"): {"partner"},
    ("POST", "/campaigns/check"): {"partner"},
    ("POST", "/campaigns/preview"): {"partner"},
    ("GET", "/campaigns/preview"): {"partner"},
    ("GET", "/campaigns"): {"partner"},
    ("POST", "/campaigns/publish"): {"partner"},
    ("GET", "/campaigns/{campaign_id}"): {"partner"},
    ("POST", "/campaigns/{campaign_id}/send"): {"partner"},
    ("POST", "/campaigns/{campaign_id}/schedule"): {"partner"},
    ("POST", "/campaigns/{campaign_id}/close"): {"partner"},
    ("GET", "/campaigns/{campaign_id}/export.{kind}"): {"partner"},
    ("GET", "/alerts"): {"safeguarding"},
    ("GET", "/alerts/{ref}"): {"safeguarding"},
    ("POST", "/alerts/{ref}/reply"): {"safeguarding"},
    ("POST", "/alerts/{ref}/close"): {"safeguarding"},
    ("GET", "/results"): {PUBLIC},
    ("GET", "/results/{city_id}"): {PUBLIC},
    ("GET", "/council"): {"council"},
    ("GET", "/council/digests/{delivery_id:int}"): {"council"},
    ("GET", "/council/digests/{delivery_id:int}/content"): {"council"},
    ("GET", "/council/results/{campaign_id}"): {"council"},
    ("POST", "/council/results/{campaign_id}/answer"): {"council"},
}
SAMPLE = {"{token}": "no-such-token", "{user_id:int}": "1", "{ref}": "SG-NONE",
          "{delivery_id:int}": "1", "{campaign_id}": "my-city",
          "{kind}": "csv"}


def routes(site: Site) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for route in create_app(site.console).routes:
        if isinstance(route, Route):
            found.extend((method, route.path) for method in sorted(route.methods or ()) if method != "HEAD")
        else:
            assert isinstance(route, Mount) and route.path == "/static"
    return found


def test_every_route_is_listed(site: Site) -> None:
    assert sorted(routes(site)) == sorted(ACCESS)


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", lambda m: SAMPLE[m.group(0)], path)


@pytest.mark.parametrize(("method", "path"), sorted(ACCESS))
def test_a_route_refuses_every_other_role(site: Site, signed_in: dict[str, TestClient], method: str,
                                          path: str) -> None:
    allowed = ACCESS[(method, path)]
    if PUBLIC in allowed:
        return
    for role, client in {**signed_in, "nobody": site.client()}.items():
        # A token the client really holds, so that only the role decides.
        token = csrf_of(client.get("/login" if role == "nobody" else "/", follow_redirects=True).text)
        response = client.request(method, concrete(path), data={"csrf": token} if method == "POST" else None)
        if role in allowed:
            assert response.status_code in {200, 303, 400, 404, 409, 422}, (role, method, path)
        elif role == "nobody" and method == "GET":
            assert response.status_code == 303 and response.headers["location"].startswith("/login")
        else:
            assert response.status_code == 403, (role, method, path, response.status_code)
