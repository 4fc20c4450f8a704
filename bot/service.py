"""The one place that orders a turn: understand -> load state -> language -> step -> save -> reply.

Everything a turn stores (state, answers, consents, profile, the handled-message mark) is written in
one transaction, before any reply is sent: a reply that fails to go out never loses an answer.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from bot.campaigns import Catalogue, LiveCatalogue
from bot.engine.conversation import Context, step
from bot.engine.language import LanguageTurn
from bot.engine.messages import AnswerRecord, Event, EventType, Inbound, InboundKind, Outbound, Step
from bot.engine.redaction import scrub
from bot.engine.state import ConversationState, Phase
from bot.engine.texts import Catalog
from bot.engine.understanding import Understanding
from bot.outbox import LEASE, Outbox, payload_of
from bot.privacy import NOTHING_KEPT, describe_data
from storage import campaign_store
from storage import repositories as repo
from storage import safeguarding as alerts_repo
from storage.errors import ConcurrentUpdateError, StorageUnavailableError
from storage.records import AnswerIn, QueuedReply
from storage.safeguarding import Destination

log = logging.getLogger(__name__)

# A conflict means another worker handled a message of the same chat at the same moment: retry.
MAX_ATTEMPTS = 5
# PostgreSQL rolled the turn back for another transaction's sake (deadlock, serialization failure):
# the database is fine, so the turn is tried again rather than kept for later. Two workers' turns
# can deadlock when each removes a reply the other's chat still has (delivered replies ride on the
# next turn's DELETE).
RETRY_STATES = {"40P01", "40001"}

T = TypeVar("T")
Clock = Callable[[], datetime]
# Channel work on a queued reply inside the turn's own transaction.
Prepare = Callable[[Session, QueuedReply], object]
# (conversation language, interface language, text, evidence so far, choice already offered)
# -> the reply language for this message and the evidence to keep.
LanguageChooser = Callable[[str | None, str | None, str, tuple[float, float], bool], LanguageTurn]


class Understand(Protocol):
    """Asks the NLU what a message says; None when it cannot (down, slow, not set up)."""

    async def __call__(self, text: str) -> Understanding | None: ...

    async def aclose(self) -> None: ...

# city id (None: not known yet) -> where the partner's safeguarding staff get alerts.
AlertRouting = Callable[[str | None], list[Destination]]


def no_routing(_city: str | None) -> list[Destination]:
    return []


# Telegram keeps an undelivered update for 24 hours: marks older than this can never match again.
HANDLED_KEPT = timedelta(days=7)

# Events a turn may have without anything to store: asking what we keep, how, or for help.
READ_ONLY_EVENTS = {EventType.DATA_REQUESTED, EventType.LANGUAGE_CHANGED}


def _reads_only(result: Step) -> bool:
    """The turn changed nothing worth keeping: no answers, no consent, no profile, no progress."""
    return (not result.answers and all(e.type in READ_ONLY_EVENTS for e in result.events)
            and result.state.phase is Phase.NEW)


ERASING_EVENTS = {EventType.CONSENT_REFUSED, EventType.NOT_ELIGIBLE, EventType.ERASURE_CONFIRMED}
# After these nothing is left for an earlier question's buttons to answer: the reply takes them off.
CLOSING_EVENTS = {EventType.SURVEY_COMPLETED, EventType.SURVEY_CLOSED, EventType.PARTICIPANT_STOPPED}


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class _Delivered:
    """Replies reported delivered, removed by a turn's statement if it queues a reply."""

    ids: list[int]
    removed: bool = False


@dataclass(frozen=True)
class Turn:
    outbound: tuple[Outbound, ...]
    acknowledgement: str | None = None
    # The message had been handled before (a redelivery): nothing was changed or sent.
    duplicate: bool = False
    answers: tuple[AnswerRecord, ...] = ()
    events: tuple[Event, ...] = ()
    # The queued copy of this reply (when the channel asked for one): report it delivered.
    reply: QueuedReply | None = None
    # The language the conversation goes on in after this turn (None: not decided yet).
    language: str | None = None
    # What the channel's ``prepare`` did for the reply in the turn's transaction (its send slots).
    prepared: object = None


class ConversationService:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        context: Context,
        catalog: Catalog,
        choose_language: LanguageChooser,
        clock: Clock = utc_now,
        understand: Understand | None = None,
        new_id: Callable[[], str] = repo.new_participant_id,
        catalogue: LiveCatalogue | None = None,
        alert_routing: AlertRouting = no_routing,
        new_ref: Callable[[], str] = alerts_repo.new_ref,
        retention: timedelta = timedelta(days=90),
        cooldown: timedelta = timedelta(hours=24),
        pseudonym_key: bytes | None = None,
    ) -> None:
        self.sessions = sessions
        self.context = context
        self.catalogue = catalogue
        self._catalogue_seen: Catalogue | None = None
        self.catalog = catalog
        self.choose_language = choose_language
        self.clock = clock
        self.understand = understand
        self.new_id = new_id
        self.alert_routing = alert_routing
        self.new_ref = new_ref
        self.retention = retention
        self.cooldown = cooldown
        # Keys the hash under which a turned-away chat is remembered; random when not configured
        # (cool-downs then last only as long as the process).
        self.pseudonym_key = pseudonym_key or secrets.token_bytes(32)
        self.outbox = Outbox(sessions, clock)

    async def handle_async(self, channel: str, external_id: str, inbound: Inbound, *,
                           message_key: str | None = None,
                           interface_language: str | None = None,
                           keep_reply: dict[str, Any] | None = None,
                           prepare: Prepare | None = None) -> Turn:
        """The turn for async channels: the NLU call happens before any database connection is held."""
        if inbound.kind is InboundKind.TEXT and self.understand is not None:
            understanding = await self.understand(inbound.text)
            inbound = replace(inbound, understanding=understanding, understood=understanding is not None)
        elif inbound.kind is InboundKind.TEXT:
            inbound = replace(inbound, understood=False)
        return await asyncio.to_thread(self.handle, channel, external_id, inbound,
                                       message_key=message_key, interface_language=interface_language,
                                       keep_reply=keep_reply, prepare=prepare)

    async def aclose(self) -> None:
        """Release what the turns opened in the current event loop (the NLU's HTTP client)."""
        if self.understand is not None:
            await self.understand.aclose()

    def handle(self, channel: str, external_id: str, inbound: Inbound, *,
               message_key: str | None = None, interface_language: str | None = None,
               keep_reply: dict[str, Any] | None = None, prepare: Prepare | None = None) -> Turn:
        """One turn. With ``keep_reply`` (the channel's delivery context) the reply is also queued,
        in the same transaction, until the channel reports it delivered. ``prepare`` runs in that
        transaction too, on the queued reply, as its last statement (the channel reserving the
        reply's send slots: one commit instead of two); its result is the turn's ``prepared``."""
        return self._retrying(channel, external_id, lambda: self._turn(
            channel, external_id, inbound, message_key, interface_language, keep_reply, prepare))

    def _retrying(self, channel: str, external_id: str, work: Callable[[], T]) -> T:
        """Run one transaction again while another worker keeps changing the same conversation.

        Raises StorageUnavailableError when the database is down or stays too busy: the channel
        can keep the message and try again later, which it must not do for other errors.
        """
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                return work()
            except ConcurrentUpdateError:
                log.info("conversation %s:%s changed under turn (attempt %d), retrying",
                         channel, external_id, attempt)
            except (OperationalError, InterfaceError) as exc:
                if getattr(exc.orig, "sqlstate", None) not in RETRY_STATES:
                    raise StorageUnavailableError(f"{channel}:{external_id}: {exc}") from exc
                log.info("turn for %s:%s rolled back by the database (%s, attempt %d), retrying",
                         channel, external_id, getattr(exc.orig, "sqlstate", None), attempt)
        raise StorageUnavailableError(
            f"{channel}:{external_id}: still changing after {MAX_ATTEMPTS} attempts")

    def refresh_campaigns(self) -> Context:
        """Take in what partners published or closed since the last look (at most every few seconds)."""
        if self.catalogue is not None:
            # Several users share the catalogue (the broadcaster too): compare, do not ask "changed?".
            catalogue = self.catalogue.current()
            if catalogue is not self._catalogue_seen:
                self._catalogue_seen = catalogue
                self.context = replace(self.context, campaigns=catalogue.campaigns,
                                       versions=catalogue.versions, windows=catalogue.windows)
        return self.context

    def _language(self, state: ConversationState, interface_language: str | None,
                  inbound: Inbound) -> Inbound:
        """The inbound message with the reply language decided; a chosen language is never touched."""
        if state.language_locked:
            return inbound
        text = inbound.text if inbound.kind is InboundKind.TEXT else ""
        decided = self.choose_language(state.language, interface_language, text,
                                       state.language_evidence, state.language_offered)
        # Only what people write is evidence: buttons and commands leave it as it was.
        return replace(inbound, language=decided.decision.language,
                       language_evidence=decided.evidence if text else None,
                       offer_language=decided.ask)

    def _turn(self, channel: str, external_id: str, inbound: Inbound, message_key: str | None,
              interface_language: str | None, keep_reply: dict[str, Any] | None,
              prepare: Prepare | None) -> Turn:
        # Replies delivered since the last removal go with this turn's own (no commit of their own).
        delivered = _Delivered(self.outbox.take_delivered() if keep_reply is not None else [])
        try:
            turn = self._turn_in(channel, external_id, inbound, message_key, interface_language,
                                 keep_reply, delivered, prepare)
        except BaseException:
            self.outbox.put_back(delivered.ids)
            raise
        if delivered.removed:
            self.outbox.forgotten(delivered.ids)
        else:
            self.outbox.put_back(delivered.ids)
        return turn

    def _turn_in(self, channel: str, external_id: str, inbound: Inbound, message_key: str | None,
                 interface_language: str | None, keep_reply: dict[str, Any] | None,
                 delivered: _Delivered, prepare: Prepare | None) -> Turn:
        context = self.refresh_campaigns()
        now = self.clock()
        with self.sessions.begin() as session:
            known, stored, buttons_at = repo.find_conversation(session, channel, external_id)
            # Checked before anyone is created: a redelivered /delete must not bring the person back.
            if message_key is not None and not repo.mark_handled(session, channel, message_key, known,
                                                                 now):
                return Turn((), duplicate=True)
            state = ConversationState.from_json(stored.data) if stored else ConversationState()
            turned_away = stored is None and self.cooldown > timedelta(0) and (
                alerts_repo.turned_away_until(session, self.chat_key(channel, external_id), now)
                is not None)
            result = step(context, state, replace(
                self._language(state, interface_language, inbound), now=now,
                turned_away=turned_away))
            if known is None and _reads_only(result):
                # /mydata, /privacy or /help from someone we have no record of: answer, keep nothing.
                outbound = result.outbound + self._nothing_kept(result)
                return self._reply(session, channel, external_id, keep_reply, result, outbound, now,
                                   None, delivered, buttons_at, prepare)
            participant_id = known or repo.get_or_create_participant(
                session, channel, external_id, now, new_id=self.new_id).id
            extra = self._apply(session, participant_id, result, now)
            if self.cooldown > timedelta(0) and any(
                    e.type is EventType.NOT_ELIGIBLE and e.data.get("cooldown") for e in result.events):
                alerts_repo.turn_away(session, self.chat_key(channel, external_id), now + self.cooldown)
            version = None
            if not any(result.has(e) for e in ERASING_EVENTS):
                version = repo.save_state(session, participant_id, result.state.to_json(),
                                          stored.version if stored else None, now)
            elif message_key is not None:
                # The erasure took this message's mark with it; keep it, tied to no one, so a
                # redelivery does not start a new conversation.
                repo.mark_handled(session, channel, message_key, None, now)
            return self._reply(session, channel, external_id, keep_reply, result,
                               result.outbound + extra, now, version, delivered, buttons_at, prepare)

    def _reply(self, session: Session, channel: str, external_id: str,
               keep_reply: dict[str, Any] | None, result: Step, outbound: tuple[Outbound, ...],
               now: datetime, version: int | None, delivered: _Delivered,
               buttons_at: int | None, prepare: Prepare | None) -> Turn:
        reply = None
        prepared = None
        if keep_reply is not None and (outbound or result.acknowledgement):
            payload = payload_of(keep_reply, result.acknowledgement, outbound, buttons_at,
                                 closes=any(e.type in CLOSING_EVENTS for e in result.events))
            reply_id = repo.queue_reply(session, channel, external_id, payload, now, now + LEASE,
                                        version, delivered.ids)
            delivered.removed = True
            reply = QueuedReply(reply_id, channel, external_id, payload, now, attempts=0,
                                state_version=version)
            if prepare is not None:
                prepared = prepare(session, reply)
        return Turn(outbound, result.acknowledgement, answers=result.answers, events=result.events,
                    reply=reply, language=result.state.language, prepared=prepared)

    def _nothing_kept(self, result: Step) -> tuple[Outbound, ...]:
        if not result.has(EventType.DATA_REQUESTED):
            return ()
        language = result.state.language or self.context.community.default_language
        return (Outbound(self.catalog.gettext(language, NOTHING_KEPT)),)

    def _apply(self, session: Session, participant_id: str, result: Step,
               now: datetime) -> tuple[Outbound, ...]:
        """Carry the turn's answers and events into storage; return any reply built from storage."""
        for answer in result.answers:
            repo.save_answer(session, AnswerIn(
                participant_id=participant_id, campaign_id=answer.campaign_id,
                campaign_version=answer.campaign_version, question_id=answer.question_id,
                option_ids=list(answer.option_ids) if answer.option_ids is not None else None,
                number=answer.number, text=answer.text,
                scrubbed_text=scrub(answer.text) if answer.text is not None else None,
                skipped=answer.skipped,
                language=answer.language, answered_at=answer.answered_at, topic=answer.topic,
                topic_confidence=answer.topic_confidence,
                understanding_pending=answer.understanding_pending, mentions=answer.mentions,
            ))
        extra: list[Outbound] = []
        for event in result.events:
            data = event.data
            if event.type is EventType.CONSENT_GIVEN:
                repo.record_consent(session, participant_id, data["kind"], True, data["age_band"],
                                    data["notice_version"], now)
            elif event.type is EventType.PROFILE_UPDATED:
                repo.update_profile(session, participant_id, **data)
            elif event.type is EventType.LANGUAGE_CHANGED:
                repo.update_profile(session, participant_id, language=data["language"])
            elif event.type is EventType.SURVEY_COMPLETED:
                repo.record_completion(session, participant_id, data["campaign"], data["version"], now)
            elif event.type is EventType.PARTICIPANT_STOPPED:
                repo.set_stopped(session, participant_id, True, now)
                campaign_store.stop_invitations(session, participant_id)
            elif event.type is EventType.SURVEY_STARTED:
                campaign_store.start_participation(session, participant_id, data["campaign"],
                                                   data["version"], now)
            elif event.type is EventType.INVITATION_ACCEPTED:
                campaign_store.record_response(session, participant_id, data["campaign"], "started",
                                               now)
            elif event.type is EventType.INVITATION_DECLINED:
                campaign_store.record_response(session, participant_id, data["campaign"], "not_now",
                                               now)
            elif event.type is EventType.PARTICIPANT_RESUMED:
                repo.set_stopped(session, participant_id, False, now)
            elif event.type in ERASING_EVENTS:
                # Only /delete takes a message passed to safeguarding staff with it.
                repo.erase_participant(session, participant_id,
                                       keep_safeguarding=event.type is not EventType.ERASURE_CONFIRMED)
            elif event.type is EventType.DISCLOSURE_DETECTED:
                ref = alerts_repo.raise_alert(
                    session, participant_id=participant_id, category=data["category"],
                    categories=data["categories"], message=data["text"], scrubbed=scrub(data["text"]),
                    city=data["city"], language=data["language"], now=now,
                    destinations=self.alert_routing(data["city"]), ref=self.new_ref)
                log.warning("safeguarding alert %s raised (%s)", ref, data["category"])
            elif event.type is EventType.DATA_REQUESTED:
                language = result.state.language or self.context.community.default_language
                extra.append(describe_data(
                    repo.participant_data(session, participant_id),
                    repo.answers_for(session, participant_id), language, self.catalog,
                    self.context, page=int(data.get("page", 1)),
                    passed_to_staff=alerts_repo.passed_to_staff(session, participant_id)))
        return tuple(extra)

    def tidy(self) -> int:
        """Forget handled-message marks too old to matter; returns how many went."""
        with self.sessions.begin() as session:
            return repo.forget_handled_before(session, self.clock() - HANDLED_KEPT)

    def chat_key(self, channel: str, external_id: str) -> str:
        """A keyed hash of a chat: recognises it again without keeping its id."""
        return hmac.new(self.pseudonym_key, f"{channel}:{external_id}".encode(),
                        hashlib.sha256).hexdigest()

    def purge(self) -> alerts_repo.Purged:
        """Past the retention period keep only scrubbed text; forget expired cool-downs."""
        now = self.clock()
        with self.sessions.begin() as session:
            return alerts_repo.purge(session, now - self.retention, now)

    def mark_stopped(self, channel: str, external_id: str) -> None:
        """The channel says the participant can no longer be reached (e.g. they blocked the bot)."""
        self._retrying(channel, external_id, lambda: self._stop(channel, external_id, self.clock()))

    def _stop(self, channel: str, external_id: str, now: datetime) -> None:
        with self.sessions.begin() as session:
            participant_id, stored, _ = repo.find_conversation(session, channel, external_id)
            if participant_id is None:
                return
            repo.set_stopped(session, participant_id, True, now)
            campaign_store.stop_invitations(session, participant_id)
            if stored is not None:
                state = ConversationState.from_json(stored.data).evolve(stopped=True)
                repo.save_state(session, participant_id, state.to_json(), stored.version, now)
