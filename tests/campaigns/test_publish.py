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
from bot.campaign_schedule import reschedule
from bot.campaigns import LiveCatalogue, PublishError, Times, publish, times_after_publish
from bot.engine.loader import load_survey
from bot.engine.messages import Inbound
from storage import campaign_store as store
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
     "The closing time 2026-11-30 18:00 written in the campaign file is already past in lyon: choose a "
     "later time."),
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


# Republishing under a schedule set after publishing (console or `campaign schedule`).

CLOSING_IN_FILE = "closes: 2026-12-03 18:00\n"


def scheduled_then_republished(app: App, console_closes: datetime, later: datetime,
                               extra: str = CLOSING_IN_FILE) -> PublishError | int:
    """Version 1 closes on the 3rd by its file; the partner moved the closing time in the console;
    on `later` they publish a corrected file (its times as `extra` says)."""
    do_publish(app, campaign_text(extra=CLOSING_IN_FILE))
    survey = load_survey(campaign_text(extra=CLOSING_IN_FILE), "c.yml", app.config.community())
    with app.sessions.begin() as session:
        reschedule(session, app.config, survey, None, console_closes, NOW, actor="lea@mdj.example")
    try:
        return do_publish(app, campaign_text(version=2, second="need2", extra=extra), now=later)
    except PublishError as refused:
        return refused


def test_a_corrected_file_follows_the_closing_time_set_in_the_console(app: App) -> None:
    # On the 5th the file's closing time (the 3rd) is past; the console's (the 20th) is not.
    version = scheduled_then_republished(app, datetime(2026, 12, 20, 18, 0), NOW + timedelta(days=4))
    assert version == 2
    with app.sessions() as session:
        run = store.run(session, "quartier")
        assert run is not None and run.version == 2 and run.closes_local == datetime(2026, 12, 20, 18, 0)
        survey = load_survey(campaign_text(version=2, second="need2", extra=CLOSING_IN_FILE), "c.yml")
        assert times_after_publish(session, survey, PARTNER) == Times(None, datetime(2026, 12, 20, 18, 0),
                                                                      "schedule")


def test_a_closing_time_past_in_the_console_is_refused_and_named(app: App) -> None:
    refused = scheduled_then_republished(app, datetime(2026, 12, 4, 18, 0), NOW + timedelta(days=6))
    assert isinstance(refused, PublishError)
    assert str(refused) == (
        "The closing time 2026-12-04 18:00 set in the console's schedule is already past in lyon: set a "
        "later closing time in the console (or with `youthvoice campaign schedule`), then publish again.")
    assert refused.in_(app.service.catalog, "fr") == (
        "La fermeture 2026-12-04 18:00 fixée dans le calendrier de la console est déjà passée à lyon : "
        "fixez une fermeture plus tardive dans la console (ou avec `youthvoice campaign schedule`), puis "
        "publiez à nouveau.")
    assert ("quartier", 2) not in stored(app)


def test_new_times_in_the_file_replace_the_console_and_are_checked(app: App) -> None:
    refused = scheduled_then_republished(app, datetime(2026, 12, 20, 18, 0), NOW + timedelta(days=4),
                                         extra="closes: 2026-12-04 18:00\n")
    assert isinstance(refused, PublishError)
    assert str(refused) == (
        "The closing time 2026-12-04 18:00 written in the campaign file is already past in lyon: choose a "
        "later time. The file's times changed since the last version, so they replace the schedule set "
        "in the console.")
    assert refused.in_(app.service.catalog, "fr").startswith(
        "La fermeture 2026-12-04 18:00 écrite dans le fichier de la campagne est déjà passée à lyon : "
        "choisissez une heure plus tardive.")
    with app.sessions() as session:
        run = store.run(session, "quartier")
        assert run is not None and run.version == 1 and run.closes_local == datetime(2026, 12, 20, 18, 0)


def test_times_chosen_beside_publish_count_over_the_file(app: App) -> None:
    text = campaign_text(extra="closes: 2026-11-30 18:00\n")
    survey = load_survey(text, "c.yml", app.config.community())
    with app.sessions.begin() as session:
        published = publish(session, app.config, survey, text, PARTNER, NOW,
                            chosen=(None, datetime(2026, 12, 20, 18, 0)))
    assert published.schedule == Times(None, datetime(2026, 12, 20, 18, 0), "chosen")
    with app.sessions.begin() as session, pytest.raises(PublishError) as caught:
        publish(session, app.config, load_survey(campaign_text("autre"), "c.yml"), campaign_text("autre"),
                PARTNER, NOW, chosen=(None, datetime(2026, 11, 30, 18, 0)))
    assert str(caught.value) == ("The closing time 2026-11-30 18:00 chosen in the console is already "
                                 "past in lyon: choose a later time.")
