"""Council officers read their digests as sent and their city's results, suppressed as in digests."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from markupsafe import escape as markupsafe_escape
from starlette.testclient import TestClient

from bot.app import digest_service
from bot.campaigns import read_survey
from digests.example import HOSTILE, generate, store
from digests.periods import Period
from storage import council_replies, digest_store
from tests.web.conftest import ROOT, Site, sign_in
from tests.web.conftest import both_databases as database_url  # noqa: F401 (SQLite and PostgreSQL)
from web.council import DIGEST_POLICY
from web.results import city_results

BANDS = ["13-14", "15-17", "18-20", "21-24"]
CELL = re.compile(r'<td class="num">([^<]*)</td>')


def seed(site: Site, tmp_path: Path) -> Period:
    survey = read_survey(ROOT / "surveys" / "my-city.yml")
    now = site.clock()
    week = Period(now - timedelta(days=8), now - timedelta(days=1))
    with site.app.sessions.begin() as session:
        store(session, generate(survey, "lyon", ["croix-rousse", "vaise", "mermoz"], BANDS, 40, week.start,
                                week.end, seed=3), now)
        store(session, generate(survey, "montreal", ["plateau", "verdun"], BANDS, 12, week.start, week.end,
                                seed=4), now)
    service = digest_service(site.app, clock=site.clock)
    for council in ("lyon-council", "montreal-council"):
        service.queue(service.council(council), week)
    return week


def test_a_council_reads_its_digest_as_sent_and_not_another_s(site: Site, signed_in: dict[str, TestClient],
                                                              tmp_path: Path) -> None:
    seed(site, tmp_path)
    council = signed_in["council"]
    overview = council.get("/council")
    assert overview.status_code == 200
    with site.app.sessions() as session:
        ours = digest_store.deliveries(session, "lyon-council")[0].id
        theirs = digest_store.deliveries(session, "montreal-council")[0].id
    assert f"/council/digests/{ours}" in overview.text and f"/council/digests/{theirs}" not in overview.text
    assert council.get(f"/council/digests/{ours}").status_code == 200
    content = council.get(f"/council/digests/{ours}/content")
    assert "Ce que disent les jeunes de Lyon" in content.text
    assert content.headers["content-security-policy"] == DIGEST_POLICY
    assert "<script>alert" not in content.text and 'src="data:image/png;base64,' in content.text
    assert council.get(f"/council/digests/{theirs}").status_code == 404
    assert council.get(f"/council/digests/{theirs}/content").status_code == 404


def test_campaign_results_show_no_small_cell_and_the_digest_s_figures(
        site: Site, signed_in: dict[str, TestClient], tmp_path: Path) -> None:
    seed(site, tmp_path)
    page = signed_in["council"].get("/council/results/my-city")
    assert page.status_code == 200
    shown = [cell for cell in CELL.findall(page.text) if cell and "%" not in cell]
    assert shown, "the results page shows no count"
    for cell in shown:
        assert cell.startswith("<span") or cell == "" or not 1 <= int(cell.replace("\u202f", "")) < 5, cell
    assert "&lt; 5" in page.text
    with site.app.sessions() as session:
        results = city_results(session, site.app.config, "lyon", "en", site.clock(), ["my-city"])
    for question in results.questions:
        assert str(markupsafe_escape(question.title)) in page.text
        for row in question.rows:
            if row.figure.count is not None:
                assert f'<td class="num">{row.figure.count}</td>' in page.text
    assert HOSTILE not in page.text


def test_a_council_sees_only_its_own_city(site: Site, tmp_path: Path) -> None:
    seed(site, tmp_path)
    site.account("mtl@example.org", "council", council="montreal-council")
    client = site.client()
    sign_in(client, "mtl@example.org")
    overview = client.get("/council").text
    assert "Montreal" in overview and "Lyon" not in overview


def test_the_council_answers_the_young_people_once(site: Site, signed_in: dict[str, TestClient],
                                                   tmp_path: Path) -> None:
    seed(site, tmp_path)
    council = signed_in["council"]
    page = council.get("/council/results/my-city").text
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    empty = council.post("/council/results/my-city/answer", data={"csrf": token, "fr": "Merci !", "en": ""})
    assert empty.status_code == 400 and "in French and in English" in empty.text and "Merci !" in empty.text
    sent = council.post("/council/results/my-city/answer", data={
        "csrf": token, "fr": "Merci ! Une ligne de bus de nuit <b>ouvre</b> en mars.",
        "en": "Thank you! A night bus line opens in March."})
    assert sent.status_code == 303 and sent.headers["location"].startswith("/council/results/my-city?done=")
    shown = council.get(sent.headers["location"]).text
    assert "Une ligne de bus de nuit &lt;b&gt;ouvre&lt;/b&gt; en mars." in shown
    assert "Send the answer" not in shown
    again = council.post("/council/results/my-city/answer",
                         data={"csrf": token, "fr": "Encore", "en": "Again"})
    assert again.status_code == 409
    with site.app.sessions() as session:
        reply = council_replies.reply_for(session, "my-city", "lyon")
    assert reply is not None and reply.text_en == "Thank you! A night bus line opens in March."
    assert "council_replied" in signed_in["admin"].get("/admin/audit").text
