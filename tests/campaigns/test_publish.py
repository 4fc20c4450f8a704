"""Publishing: partners' rights, versions, seeds that never stop start-up, pinned participants."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from bot.app import App, build_app
from bot.campaigns import LiveCatalogue, PublishError, publish
from bot.engine.loader import load_survey
from bot.engine.messages import Inbound
from storage.models import Answer, Campaign, CampaignRun, Participation, SurveyCompletion
from tests.support.deployment import campaign_text, write_deployment

NOW = datetime(2026, 12, 1, 13, 0, tzinfo=UTC)
PARTNER = "maison-des-jeunes"


@pytest.fixture
def app(tmp_path: Path, db_url: str) -> Iterator[App]:
    built = build_app(write_deployment(tmp_path), db_url, clock=lambda: NOW)
    yield built
    built.close()


def do_publish(app: App, text: str, partner: str = PARTNER, now: datetime = NOW) -> int:
    survey = load_survey(text, "c.yml", app.config.community())
    with app.sessions.begin() as session:
        return publish(session, app.config, survey, text, partner, now).version


def stored(app: App) -> list[tuple[str, int]]:
    with app.sessions() as session:
        return [(c.id, c.version) for c in session.scalars(select(Campaign).order_by(Campaign.id,
                                                                                      Campaign.version))]


@pytest.mark.parametrize(("text", "partner", "refusal"), [
    (campaign_text(cities="montreal"), PARTNER,
     "Maison des Jeunes de la Croix-Rousse may publish for lyon only, and this campaign targets "
     "montreal."),
    (campaign_text(), "nobody", "There is no partner 'nobody' in config.yml (partners: maison-des-jeunes)."),
    (campaign_text().replace("cities: [lyon]\n", ""), PARTNER,
     "This campaign targets no city: add a line like `cities: [lyon]` to say whose young people it "
     "is for."),
    (campaign_text(extra="closes: 2026-11-30 18:00\n"), PARTNER,
     "The closing date 2026-11-30 18:00 is already past in lyon: choose a later date."),
])
def test_bad_publishes_get_one_sentence_and_change_nothing(app: App, text: str, partner: str,
                                                          refusal: str) -> None:
    before = stored(app)
    with pytest.raises(PublishError) as caught:
        do_publish(app, text, partner)
    assert str(caught.value) == refusal
    assert stored(app) == before


def test_publishing_again_makes_a_version_only_when_the_file_changed(app: App) -> None:
    assert do_publish(app, campaign_text()) == 1
    with pytest.raises(PublishError, match=r"^Nothing changed since version 1: nothing was published\.$"):
        do_publish(app, campaign_text())
    # Even a comment is a change; the file's own version need not be bumped by hand.
    assert do_publish(app, "# reworded\n" + campaign_text()) == 2
    assert do_publish(app, campaign_text(version=5)) == 5
    assert stored(app)[-3:] == [("quartier", 1), ("quartier", 2), ("quartier", 5)]


def test_another_partners_campaign_id_is_refused(app: App, tmp_path: Path) -> None:
    do_publish(app, campaign_text())
    with app.sessions.begin() as session:
        session.execute(update(CampaignRun).values(partner_id="someone-else"))
    with pytest.raises(PublishError, match="belongs to another partner"):
        do_publish(app, "# mine\n" + campaign_text())


def test_an_edited_seed_without_a_new_version_never_stops_start_up(
        tmp_path: Path, db_url: str, caplog: pytest.LogCaptureFixture) -> None:
    config = write_deployment(tmp_path)
    build_app(config, db_url, clock=lambda: NOW).close()
    seed = tmp_path / "surveys" / "my-city.yml"
    seed.write_text("# a comment added later\n" + seed.read_text(encoding="utf-8"), encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        app = build_app(config, db_url, clock=lambda: NOW)
    try:
        assert re.search(r"my-city: the file differs from version (\d+) in use", caplog.text)
        assert [s.id for s in app.context.campaigns] == ["my-city"]
        assert app.context.campaigns[0].source_hash != load_survey(
            seed.read_text(encoding="utf-8"), "my-city.yml").source_hash
    finally:
        app.close()


def test_workers_take_in_a_new_version_without_a_restart(app: App) -> None:
    ticks = iter(range(0, 1000, 30))
    live = LiveCatalogue(app.sessions, app.config, every=20, monotonic=lambda: float(next(ticks)))
    first = live.current()
    assert "quartier" not in {s.id for s in first.campaigns}
    assert live.current() is first  # nothing changed: nothing reloaded
    do_publish(app, campaign_text())
    assert {s.id: s.version for s in live.current().campaigns}["quartier"] == 1
    do_publish(app, campaign_text(version=2, second="wish"))
    assert {s.id: s.version for s in live.current().campaigns}["quartier"] == 2


def onboard(app: App, chat: str, now: datetime) -> None:
    service = app.service
    for message in ("/start",):
        service.handle("test", chat, Inbound.text_message(message, now))
    for data in ("l:fr", "o:age:15-17", "o:consent:yes", "o:city:lyon", "o:neighbourhood:vaise"):
        service.handle("test", chat, Inbound.button(data, now))


def test_a_participant_on_version_1_finishes_version_1_while_2_is_published(
        tmp_path: Path, db_url: str) -> None:
    app = build_app(write_deployment(tmp_path, seeds=False), db_url, clock=lambda: NOW)
    app.service.catalogue = LiveCatalogue(app.sessions, app.config, every=0)
    try:
        do_publish(app, campaign_text())
        onboard(app, "1", NOW)  # ends onboarding inside quartier v1, at question "like"
        turn = app.service.handle("test", "1", Inbound.button("q:quartier:like:yes", NOW))
        assert "What does it need most?" in turn.outbound[-1].text or "Que faudrait-il" in \
            turn.outbound[-1].text
        do_publish(app, campaign_text(version=2, second="wish"))
        # Version 1's question "need" is still the one asked and answered.
        app.service.handle("test", "1", Inbound.button("q:quartier:need:parks", NOW))
        onboard(app, "2", NOW)  # a newcomer gets version 2
        with app.sessions() as session:
            answers = session.execute(select(Answer.participant_id, Answer.campaign_version,
                                             Answer.question_id).order_by(Answer.id)).all()
            pinned = dict(session.execute(select(Participation.participant_id,
                                                 Participation.campaign_version)).all())
            completions = session.scalar(select(func.count()).select_from(SurveyCompletion))
        first = answers[0].participant_id
        assert [(a.campaign_version, a.question_id) for a in answers if a.participant_id == first] == [
            (1, "like"), (1, "need")]
        assert sorted(pinned.values()) == [1, 2]
        assert completions == 1
    finally:
        app.close()


def test_closing_answers_late_messages_politely_and_keeps_nothing(tmp_path: Path, db_url: str) -> None:
    clock = [NOW]
    app = build_app(write_deployment(tmp_path, seeds=False), db_url, clock=lambda: clock[0])
    app.service.catalogue = LiveCatalogue(app.sessions, app.config, every=0)
    try:
        do_publish(app, campaign_text())
        onboard(app, "1", NOW)
        from storage import campaign_store
        with app.sessions.begin() as session:
            assert campaign_store.close_run(session, "quartier", NOW) is True
            assert campaign_store.close_run(session, "quartier", NOW) is False
        clock[0] = NOW + timedelta(minutes=5)
        turn = app.service.handle("test", "1", Inbound.button("q:quartier:like:yes", clock[0]))
        assert turn.outbound[0].text == ("Merci, mais ce questionnaire est fermé : les réponses ne "
                                         "sont plus recueillies.")
        with app.sessions() as session:
            assert session.scalar(select(func.count()).select_from(Answer)) == 0
    finally:
        app.close()
