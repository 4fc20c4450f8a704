"""Safeguarding staff's pages: the open alerts, one alert with its history, a reply to the young
person (relayed by the bot) and closing. Replies and closing go through the same Staff service as
`youthvoice safeguarding`, so every step is recorded the same way."""

from __future__ import annotations

import re

from starlette.responses import Response
from starlette.routing import Route

from bot import alerts
from bot.engine.safeguarding import Category
from bot.staff import Staff, UnknownAlertError
from storage import safeguarding as alerts_repo
from storage.models import SafeguardingAlert
from web.i18n import N_
from web.pages import NotFound, Page, page

CATEGORY_NAMES = {
    Category.SELF_HARM.value: N_("self-harm or suicidal thoughts"),
    Category.SEXUAL_ABUSE.value: N_("sexual abuse or grooming"),
    Category.ABUSE_AT_HOME.value: N_("abuse or violence at home"),
    Category.EXPLOITATION.value: N_("exploitation"),
    Category.VIOLENCE_FROM_OTHERS.value: N_("threats or violence from others"),
    Category.ACUTE_DISTRESS.value: N_("acute distress"),
}

# The steps of an alert's history, in the reader's language (stored as these codes).
STEP_NAMES = {
    "raised": N_("raised"),
    "viewed": N_("viewed"),
    "replied": N_("replied"),
    "closed": N_("closed"),
    "delivered": N_("delivered"),
}

# What the bot kept of each delivery (bot/alerts.py), as the reader's language says it. The staff
# chat's id is not shown: the staff know their own chat.
def _kept(outcome: str) -> re.Pattern[str]:
    """The pattern of an outcome as kept: its {fields} become named groups."""
    return re.compile("^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>.+)", re.escape(outcome)) + "$")


OUTCOMES = [
    (_kept(alerts.TO_TELEGRAM), N_("alert delivered to the staff Telegram chat")),
    (_kept(alerts.TO_EMAIL), N_("alert e-mailed to %(address)s")),
    (_kept(alerts.RELAYED), N_("reply relayed to the young person")),
    (_kept(alerts.NOT_RELAYED_ERASED), N_("reply not relayed: the young person erased their data")),
    (_kept(alerts.NOT_RELAYED_UNREACHABLE), N_("reply not relayed: the young person cannot be reached "
                                               "(%(reason)s)")),
]


def outcome(current: Page, note: str) -> str:
    """A delivery's outcome in the reader's language; as kept when it is none of the known ones."""
    for pattern, wording in OUTCOMES:
        found = pattern.match(note)
        if found:
            return current.tr(wording, **found.groupdict())
    return note


DELIVERY_NAMES = {
    "telegram": N_("the alert to the staff Telegram chat"),
    "email": N_("the alert to the staff e-mail address"),
    "participant": N_("your reply to the young person"),
}


def _staff(current: Page) -> Staff:
    context = current.console.context
    return Staff(current.console.sessions, context.community, context.catalog, current.console.clock)


def _cities(current: Page) -> set[str] | None:
    """The cities this account follows: its partner's, or every city for an account of no partner."""
    assert current.user is not None
    if current.user.partner_id is None:
        return None
    partner = next((p for p in current.config.partners if p.id == current.user.partner_id), None)
    return set(partner.cities) if partner is not None else set()


def _visible(current: Page, alert: SafeguardingAlert) -> bool:
    cities = _cities(current)
    return cities is None or alert.city in cities


def _alert(current: Page) -> SafeguardingAlert:
    found = alerts_repo.alert(current.db, current.request.path_params["ref"])
    if found is None or not _visible(current, found):
        raise NotFound
    return found


@page("safeguarding")
def alert_list(current: Page) -> Response:
    everything = current.request.query_params.get("all") == "1"
    status = None if everything else "open"
    shown = [a for a in alerts_repo.alerts(current.db, status) if _visible(current, a)]
    return current.render("alerts.html", alerts=shown, everything=everything, categories=CATEGORY_NAMES)


@page("safeguarding")
def alert_page(current: Page) -> Response:
    assert current.user is not None
    alert = _alert(current)
    alerts_repo.record_step(current.db, alert.id, current.user.email, "viewed", current.now)
    current.db.flush()
    waiting = [d for d in alerts_repo.deliveries(current.db, alert.id) if d.delivered_at is None]
    empty = current.request.query_params.get("empty") == "1"
    return current.render("alert.html", alert=alert, categories=CATEGORY_NAMES, deliveries=DELIVERY_NAMES,
                          step_names=STEP_NAMES, outcome=lambda note: outcome(current, note),
                          steps=alerts_repo.steps(current.db, alert.id), waiting=waiting,
                          problem=N_("Write the message to send first.") if empty else None)


def _act(current: Page, action: str) -> Response:
    assert current.user is not None
    ref = _alert(current).ref
    # The service runs its own transaction: end the page's before it starts.
    current.finish_transaction(commit=True)
    staff = _staff(current)
    try:
        if action == "reply":
            text = current.field("text")
            if not text:
                return current.redirect(f"/alerts/{ref}?empty=1")
            staff.reply(ref, current.user.email, text)
        else:
            staff.close(ref, current.user.email, current.field("note") or None)
    except UnknownAlertError as exc:
        raise NotFound from exc
    current.audit(f"alert_{'replied' if action == 'reply' else 'closed'}", ref)
    return current.redirect(f"/alerts/{ref}")


@page("safeguarding")
def reply(current: Page) -> Response:
    return _act(current, "reply")


@page("safeguarding")
def close(current: Page) -> Response:
    return _act(current, "close")


ROUTES = [
    Route("/alerts", alert_list, methods=["GET"]),
    Route("/alerts/{ref}", alert_page, methods=["GET"]),
    Route("/alerts/{ref}/reply", reply, methods=["POST"]),
    Route("/alerts/{ref}/close", close, methods=["POST"]),
]
