"""The administrator's pages: staff accounts (create, new password link, disable) and the audit trail."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from storage import staff_repository as staff
from web import accounts
from web.i18n import N_
from web.pages import NotFound, Page, page

# What each recorded action was, in the reader's language (the code stays beside it, to search for).
ACTION_NAMES = {
    "account_created": N_("account created"),
    "account_disabled": N_("account disabled"),
    "account_enabled": N_("account enabled"),
    "password_link_issued": N_("password link issued"),
    "password_set": N_("password set"),
    "signed_in": N_("signed in"),
    "signed_out": N_("signed out"),
    "login_throttled": N_("sign-in attempts held back"),
    "language_chosen": N_("language chosen"),
    "campaign_published": N_("campaign published"),
    "campaign_scheduled": N_("campaign scheduled"),
    "campaign_sent": N_("invitations sent"),
    "campaign_closed": N_("campaign closed"),
    "campaign_exported": N_("answers downloaded"),
    "council_replied": N_("council's answer sent"),
    "alert_replied": N_("reply to an alert"),
    "alert_closed": N_("alert closed"),
}


def _users_page(current: Page, status: int = 200, link: accounts.PasswordLink | None = None,
                problem: str | None = None) -> Response:
    return current.render("admin_users.html", status=status, users=staff.list_users(current.db),
                          partners=current.config.partners, councils=current.config.councils,
                          link=link, problem=problem)


@page("admin")
def users(current: Page) -> Response:
    return _users_page(current)


@page("admin")
def add_user(current: Page) -> Response:
    assert current.user is not None
    role = current.field("role")
    try:
        link = accounts.add_account(
            current.db, current.config, current.console.settings, email=current.field("email"),
            name=current.field("name"), role=role,
            partner_id=current.field("partner") or None if role in {"partner", "safeguarding"} else None,
            council_id=current.field("council") or None if role == "council" else None,
            language=current.field("language") or current.language, actor=current.user.email,
            now=current.now)
    except accounts.AccountError as exc:
        return _users_page(current, status=400, problem=str(exc))
    return _users_page(current, link=link)


def _user(current: Page) -> str:
    found = staff.get_user(current.db, int(current.request.path_params["user_id"]))
    if found is None:
        raise NotFound
    return found.email


@page("admin")
def new_link(current: Page) -> Response:
    assert current.user is not None
    link = accounts.reset_link(current.db, current.console.settings, _user(current), current.user.email,
                               current.now)
    return _users_page(current, link=link)


@page("admin")
def set_active(current: Page) -> Response:
    assert current.user is not None
    email = _user(current)
    if email == current.user.email:
        return _users_page(current, status=400, problem=current.tr("You cannot disable your own account."))
    accounts.set_active(current.db, email, current.field("active") == "1", current.user.email, current.now)
    return current.redirect("/admin/users")


@page("admin")
def audit_trail(current: Page) -> Response:
    return current.render("admin_audit.html", events=staff.audit_trail(current.db), actions=ACTION_NAMES)


ROUTES = [
    Route("/admin/users", users, methods=["GET"]),
    Route("/admin/users", add_user, methods=["POST"]),
    Route("/admin/users/{user_id:int}/link", new_link, methods=["POST"]),
    Route("/admin/users/{user_id:int}/active", set_active, methods=["POST"]),
    Route("/admin/audit", audit_trail, methods=["GET"]),
]
