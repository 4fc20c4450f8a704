"""Signing in and out, setting a password from a one-time link, choosing the console's language."""

from __future__ import annotations

from datetime import datetime

from starlette.responses import Response
from starlette.routing import Route

from storage import staff_repository as staff
from web import passwords
from web.i18n import LANGUAGES, N_
from web.pages import LANGUAGE_COOKIE, Page, page


def _safe_next(target: str) -> str:
    """Only a path of this site: never send a person elsewhere after signing in."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def _client(current: Page) -> str:
    return current.request.client.host if current.request.client else "unknown"


def _throttled(current: Page, email: str, now: datetime) -> bool:
    settings = current.console.settings
    since = now - settings.login_window
    return (staff.login_failures_since(current.db, since, email=email) >= settings.login_failures_per_email
            or staff.login_failures_since(current.db, since, client=_client(current))
            >= settings.login_failures_per_client)


@page()
def login_form(current: Page) -> Response:
    if current.user is not None:
        return current.redirect("/")
    return current.render("login.html", next=_safe_next(current.request.query_params.get("next", "/")),
                          email="", problem=None)


@page()
def login(current: Page) -> Response:
    email = current.field("email").lower()
    password = current.form.get("password", "") if current.form is not None else ""
    target = _safe_next(current.field("next") or "/")
    if _throttled(current, email, current.now):
        current.audit("login_throttled", email, client=_client(current))
        return current.render("login.html", status=429, next=target, email=email, problem="throttled")
    user = staff.find_user(current.db, email)
    if (not isinstance(password, str) or user is None or not user.active
            or not passwords.verify(user.password_hash, password)):
        staff.record_login_failure(current.db, email, _client(current), current.now)
        return current.render("login.html", status=401, next=target, email=email, problem="wrong")
    staff.forget_login_failures(current.db, email)
    # Housekeeping where it costs nothing noticeable: sessions past their end, failures past the window.
    staff.forget_expired_sessions(current.db, current.now)
    staff.forget_login_failures_before(current.db, current.now - current.console.settings.login_window)
    current.start_session(user)
    current.audit("signed_in", user.email)
    return current.redirect(target)


@page()
def logout(current: Page) -> Response:
    if current.user is not None:
        current.audit("signed_out", current.user.email)
    current.end_session()
    return current.redirect("/login")


@page()
def password_form(current: Page) -> Response:
    token = current.request.path_params["token"]
    found = staff.usable_token(current.db, token, current.now)
    if found is None:
        return current.render("password.html", status=404, valid=False, problem=None, token=token)
    return current.render("password.html", valid=True, problem=None, token=token)


@page()
def set_password(current: Page) -> Response:
    token = current.request.path_params["token"]
    found = staff.usable_token(current.db, token, current.now)
    if found is None:
        return current.render("password.html", status=404, valid=False, problem=None, token=token)
    user = staff.get_user(current.db, found.user_id)
    password = current.form.get("password", "") if current.form is not None else ""
    again = current.form.get("again", "") if current.form is not None else ""
    if user is None or not isinstance(password, str) or not isinstance(again, str):
        return current.render("password.html", status=404, valid=False, problem=None, token=token)
    problem = passwords.weakness(password, user.email)
    if problem is None and password != again:
        problem = N_("The two passwords differ.")
    if problem is not None:
        current.language = user.language
        return current.render("password.html", status=400, valid=True, problem=problem, token=token)
    staff.use_token(current.db, found, passwords.hash_password(password), current.now)
    current.user = user
    current.audit("password_set", user.email)
    current.start_session(user)
    return current.redirect("/")


@page()
def choose_language(current: Page) -> Response:
    language = current.field("language")
    target = _safe_next(current.field("next") or "/")
    if language not in LANGUAGES:
        return current.redirect(target)
    if current.user is not None:
        user = staff.get_user(current.db, current.user.id)
        if user is not None and user.language != language:
            user.language = language
            current.audit("language_chosen", user.email, language=language)
    else:
        current.set_cookie(LANGUAGE_COOKIE, language, 365 * 24 * 3600)
    return current.redirect(target)


ROUTES = [
    Route("/login", login_form, methods=["GET"]),
    Route("/login", login, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/password/{token}", password_form, methods=["GET"]),
    Route("/password/{token}", set_password, methods=["POST"]),
    Route("/language", choose_language, methods=["POST"]),
]
