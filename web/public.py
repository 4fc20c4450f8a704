"""The public results: per city, the closed campaigns' participation and answers, small cells
suppressed as in the councils' digests. No account, no cookie (but the language chosen), no script."""

from __future__ import annotations

from datetime import datetime

from starlette.responses import Response
from starlette.routing import Route

from web.pages import NotFound, Page, page

# Public figures change only when answers arrive or campaigns close: a shared cache may keep them
# for a few minutes.
PUBLIC_CACHE = "public, max-age=300"


def closed_campaigns(current: Page, city_id: str) -> tuple[list[str], datetime | None]:
    """The campaigns of this city that are over, in the order they were published, and when the
    last of them closed."""
    # In the page's transaction: one connection per view.
    catalogue = current.console.catalogue.current(session=current.db)
    closed = []
    last: datetime | None = None
    for run in sorted(catalogue.runs.values(), key=lambda r: r.published_at):
        survey = catalogue.versions.get((run.campaign_id, run.version))
        if run.closed_at is None or survey is None:
            continue
        if not survey.audience.cities or city_id in survey.audience.cities:
            closed.append(run.campaign_id)
            last = run.closed_at if last is None else max(last, run.closed_at)
    return closed, last


@page()
def cities(current: Page) -> Response:
    current.has_forms = False
    response = current.render("public_cities.html", cities=current.config.cities)
    response.headers["cache-control"] = PUBLIC_CACHE
    return response


@page()
def city(current: Page) -> Response:
    current.has_forms = False
    city_id = current.request.path_params["city_id"]
    found = current.config.city(city_id)
    if found is None:
        raise NotFound
    campaign_ids, closed_at = closed_campaigns(current, city_id)
    results = current.console.results.results(current.db, city_id, current.language, current.now,
                                               campaign_ids, closed_at)
    response = current.render("public_city.html", city=found, results=results,
                              charts_html=current.charts(results, headings=True))
    response.headers["cache-control"] = PUBLIC_CACHE
    return response


ROUTES = [
    Route("/results", cities, methods=["GET"]),
    Route("/results/{city_id}", city, methods=["GET"]),
]
