"""A council officer's pages: the digests the council received, each readable as it was sent, and the
results of each campaign of its city with small cells suppressed as in the digests."""

from __future__ import annotations

from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from bot.config import CouncilConfig
from digests.delivery import _html_with_images as html_with_images
from digests.render import TELEGRAM_LIMIT as REPLY_LIMIT
from storage import campaign_store, council_replies, digest_store
from storage.models import DigestDelivery
from web.i18n import N_
from web.pages import Forbidden, NotFound, Page, page

# The digest is an email: inline styles are how it survives mail clients. Still no script, nothing
# from elsewhere, and only this console may frame it.
DIGEST_POLICY = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
                 "frame-ancestors 'self'; base-uri 'none'; form-action 'none'")
# Channels whose stored content is the email itself.
EMAIL_CHANNELS = ("email", "outbox")


def _council(current: Page) -> CouncilConfig:
    assert current.user is not None
    council = next((c for c in current.config.councils if c.id == current.user.council_id), None)
    if council is None:
        raise Forbidden
    return council


def _digests(current: Page, council: CouncilConfig) -> list[DigestDelivery]:
    """One delivery per period, the email one when there is one (it can be shown as it was sent)."""
    chosen: dict[tuple[object, object], DigestDelivery] = {}
    for delivery in digest_store.deliveries(current.db, council.id):
        key = (delivery.period_start, delivery.period_end)
        if key not in chosen or (delivery.channel in EMAIL_CHANNELS
                                 and chosen[key].channel not in EMAIL_CHANNELS):
            chosen[key] = delivery
    return sorted(chosen.values(), key=lambda d: d.period_start, reverse=True)


@page("council")
def overview(current: Page) -> Response:
    council = _council(current)
    results = current.console.results.results(current.db, council.city, current.language, current.now)
    return current.render("council.html", council=council, digests=_digests(current, council),
                          results=results)


def _delivery(current: Page, council: CouncilConfig) -> DigestDelivery:
    wanted = current.request.path_params["delivery_id"]
    found = next((d for d in _digests(current, council) if d.id == wanted), None)
    if found is None:
        raise NotFound
    return found


@page("council")
def digest(current: Page) -> Response:
    council = _council(current)
    return current.render("council_digest.html", council=council, delivery=_delivery(current, council))


@page("council")
def digest_content(current: Page) -> Response:
    council = _council(current)
    delivery = _delivery(current, council)
    if delivery.channel not in EMAIL_CHANNELS:
        raise NotFound
    response = HTMLResponse(html_with_images(delivery.content))
    response.headers["content-security-policy"] = DIGEST_POLICY
    response.headers["x-frame-options"] = "SAMEORIGIN"
    return response


def _results_page(current: Page, status: int = 200, problem: str | None = None,
                  drafts: tuple[str, str] = ("", "")) -> Response:
    council = _council(current)
    campaign_id = current.request.path_params["campaign_id"]
    # In the page's transaction: after a refused answer it holds SQLite's one write lock.
    run = campaign_store.run(current.db, campaign_id)
    results = current.console.results.results(current.db, council.city, current.language, current.now,
                                               [campaign_id], run.closed_at if run else None)
    if not results.campaigns:
        raise NotFound
    reply = council_replies.reply_for(current.db, campaign_id, council.city)
    answered = reply if reply is not None and reply.council_id == council.id else None
    return current.render("council_results.html", status=status, council=council, results=results,
                          campaign=results.campaigns[0], charts_html=current.charts(results, breakdowns=True),
                          reply=answered, problem=problem, drafts=drafts, limit=REPLY_LIMIT,
                          notice=current.request.query_params.get("done"))


@page("council")
def campaign_results(current: Page) -> Response:
    return _results_page(current)


@page("council")
def answer(current: Page) -> Response:
    """The council's answer to the young people who took part: once per campaign, through the
    broadcaster, as `youthvoice council reply` sends it."""
    assert current.user is not None
    council = _council(current)
    campaign_id = current.request.path_params["campaign_id"]
    texts = (current.field("fr"), current.field("en"))
    if not all(texts):
        return _results_page(current, 400, N_("Write the answer in French and in English."), texts)
    if any(len(text) > REPLY_LIMIT for text in texts):
        return _results_page(current, 400, N_("An answer must fit in one Telegram message."), texts)
    version = campaign_store.highest_version(current.db, campaign_id)
    if version is None:
        raise NotFound
    if council_replies.record_reply(current.db, council.id, campaign_id, council.city, texts[0], texts[1],
                                    current.now) is None:
        return _results_page(current, 409, N_("The council already answered about this campaign: young "
                                              "people get one answer per campaign."), texts)
    queued = council_replies.queue_reply(current.db, campaign_id, version, council.city, "telegram",
                                         current.now, current.now)
    current.audit("council_replied", campaign_id, council=council.id, queued=queued)
    return current.redirect(f"/council/results/{campaign_id}?done={queued}")


ROUTES = [
    Route("/council", overview, methods=["GET"]),
    Route("/council/digests/{delivery_id:int}", digest, methods=["GET"]),
    Route("/council/digests/{delivery_id:int}/content", digest_content, methods=["GET"]),
    Route("/council/results/{campaign_id}", campaign_results, methods=["GET"]),
    Route("/council/results/{campaign_id}/answer", answer, methods=["POST"]),
]
