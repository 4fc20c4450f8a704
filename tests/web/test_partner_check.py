"""A partner checks a campaign file in the browser and tries it, in French and English, storing nothing."""

from __future__ import annotations

import re
from html import unescape

from sqlalchemy import func, select
from starlette.testclient import TestClient

from storage.models import Answer, ConversationState, Participant
from tests.web.conftest import ROOT, Site, csrf_of, sign_in

GOOD = (ROOT / "surveys" / "my-city.yml").read_text(encoding="utf-8")
# Line 3 of the real campaign, its id, made invalid.
BROKEN = GOOD.replace("id: my-city", "id: My City", 1)
SIGNED = re.compile(r'name="conversation" value="([^"]+)"')


def upload(client: TestClient, text: str | bytes, name: str = "campaign.yml") -> str:
    token = csrf_of(client.get("/campaigns/check").text)
    response = client.post("/campaigns/check", data={"csrf": token},
                           files={"file": (name, text.encode() if isinstance(text, str) else text)})
    return response.text


def test_a_mistake_is_shown_beside_its_line_and_the_fix_is_accepted(
        site: Site, signed_in: dict[str, TestClient]) -> None:
    partner = signed_in["partner"]
    page = upload(partner, BROKEN, "ma-campagne.yml")
    line = next(n for n, text in enumerate(BROKEN.splitlines(), start=1) if text.startswith("id:"))
    row = re.search(rf'<tr class="bad" id="line-{line}">(.*?)</tr>', page, re.S)
    assert row is not None, page
    assert "id: My City" in row.group(1) and "is not a valid id" in unescape(row.group(1))
    assert "1 problem in ma-campagne.yml" in page
    # A long file: the summary links to the line.
    assert f'<a href="#line-{line}">line {line}</a> · id' in page
    fixed = upload(partner, GOOD, "ma-campagne.yml")
    assert "No problem found in ma-campagne.yml." in fixed
    assert "Try it in French" in fixed and "Try it in English" in fixed


def test_a_french_partner_reads_the_problems_in_french(site: Site) -> None:
    site.account("lea@mdj.example", "partner", partner="maison-des-jeunes", language="fr")
    partner = site.client("fr")
    sign_in(partner, "lea@mdj.example")
    page = unescape(upload(partner, BROKEN, "ma-campagne.yml"))
    assert "id: 'My City' n'est pas un id valide" in page and "is not a valid id" not in page


def test_a_file_that_is_not_text_is_explained(signed_in: dict[str, TestClient]) -> None:
    page = upload(signed_in["partner"], "id: café".encode("latin-1"))
    assert "not UTF-8 text" in page


def preview_step(client: TestClient, page: str, **fields: str) -> str:
    signed = SIGNED.search(page)
    assert signed is not None
    source = unescape(re.search(r'<textarea name="source" hidden>(.*?)</textarea>', page, re.S).group(1))  # type: ignore[union-attr]
    response = client.post("/campaigns/preview", data={"csrf": csrf_of(page), "conversation": signed.group(1),
                                                       "source": source, **fields})
    assert response.status_code == 200, response.text
    return response.text


def test_the_preview_runs_the_bot_in_both_languages_and_stores_nothing(
        site: Site, signed_in: dict[str, TestClient]) -> None:
    partner = signed_in["partner"]
    token = csrf_of(partner.get("/campaigns/check").text)
    french = partner.post("/campaigns/preview", data={"csrf": token, "source": GOOD, "language": "fr"}).text
    assert "Comment te déplaces-tu le plus souvent en ville ?" in unescape(french)
    after = preview_step(partner, french, press="q:my-city:getting_around:bus")
    assert "Bus, tram ou métro" in unescape(after)
    assert "Qu&#39;est-ce qui te gêne le plus" in after or "Qu'est-ce qui te gêne le plus" in unescape(after)
    english = partner.post("/campaigns/preview", data={"csrf": token, "source": GOOD, "language": "en"}).text
    assert "How do you usually get around town?" in english
    typed = preview_step(partner, english, text="by bus")
    assert "Bus, tram or metro" in typed and "What gets in your way most" in typed
    with site.app.sessions() as session:
        for table in (Participant, Answer, ConversationState):
            assert session.scalar(select(func.count()).select_from(table)) == 0


def test_a_tampered_preview_is_refused(signed_in: dict[str, TestClient]) -> None:
    partner = signed_in["partner"]
    token = csrf_of(partner.get("/campaigns/check").text)
    response = partner.post("/campaigns/preview", data={"csrf": token, "source": GOOD,
                                                        "conversation": "eyJmb28iOjF9.forged"})
    assert response.status_code == 400 and "start it again" in response.text


def test_campaign_texts_are_shown_as_text_never_as_html(signed_in: dict[str, TestClient]) -> None:
    hostile = GOOD.replace("id: my-city", "id: <script>alert(1)</script>", 1)
    page = upload(signed_in["partner"], hostile)
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
