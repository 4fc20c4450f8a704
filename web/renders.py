"""The results' charts rendered once per kept digest and language.

A campaign's results are hundreds of formatted figures: drawing them is most of a results page's
time, while the digest they show changes at most once a minute (web/results.py keeps it). The HTML
is kept with the very digest object it was drawn from, and drawn again as soon as the page is given
another one (new counts, another language): what a reader sees is always the digest of the request.
"""

from __future__ import annotations

import threading

from jinja2 import Environment
from markupsafe import Markup

from digests.model import Digest

CHARTS_TEMPLATE = "results_charts.html"

# Which charts of which results: language, council, city, campaigns, with breakdowns, with headings.
Key = tuple[str, str, str, tuple[str, ...], bool, bool]


class RenderedCharts:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kept: dict[Key, tuple[Digest, Markup]] = {}

    def charts(self, env: Environment, results: Digest, *, breakdowns: bool, headings: bool) -> Markup:
        """The campaigns' participation and per-question charts of ``results``, in the language of
        ``env`` (the digest's own); with each campaign's title as a heading when there may be several."""
        language = str(env.globals["language"])
        key = (language, results.council_id, results.city_name,
               tuple(c.campaign_id for c in results.campaigns), breakdowns, headings)
        with self._lock:
            kept = self._kept.get(key)
        if kept is not None and kept[0] is results:
            return kept[1]
        html = Markup(env.get_template(CHARTS_TEMPLATE).render(
            results=results, breakdowns=breakdowns, headings=headings))
        with self._lock:
            # One entry per key: the digest it replaces is no longer the one pages are given.
            self._kept[key] = (results, html)
        return html
