"""Database tables.

Identities (which chat belongs to whom) live apart from everything else: answers,
consents and conversation state only know the pseudonymous participant id, so an
export of answers never carries a Telegram chat id.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from storage.types import FreeText, UTCDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

CONSENT_KINDS = ("participation", "parental")

PARTICIPANT_ID_LENGTH = 32


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _participant_fk(*, nullable: bool = False, primary_key: bool = False, index: bool = False) -> Mapped[Any]:
    # ON DELETE CASCADE lets the database itself guarantee that erasing a participant
    # leaves nothing of theirs behind.
    return mapped_column(
        String(PARTICIPANT_ID_LENGTH),
        ForeignKey("participants.id", ondelete="CASCADE"),
        nullable=nullable,
        primary_key=primary_key,
        index=index,
    )


class Participant(Base):
    __tablename__ = "participants"

    id: Mapped[str] = mapped_column(String(PARTICIPANT_ID_LENGTH), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    language: Mapped[str | None] = mapped_column(String)
    age_band: Mapped[str | None] = mapped_column(String)
    city: Mapped[str | None] = mapped_column(String)
    neighbourhood: Mapped[str | None] = mapped_column(String)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ChannelIdentity(Base):
    __tablename__ = "channel_identities"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String)
    external_id: Mapped[str] = mapped_column(String)
    participant_id: Mapped[str] = _participant_fk(index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The chat's last message whose buttons are still live, kept for whichever worker handles the
    # next message: a typed answer takes those buttons off (written with delivered replies' removal).
    buttons_message_id: Mapped[int | None] = mapped_column(Integer)


class ConsentRecord(Base):
    """One consent decision; rows are only ever added, so the history stays provable."""

    __tablename__ = "consent_records"
    __table_args__ = (
        CheckConstraint("kind IN (" + ", ".join(f"'{kind}'" for kind in CONSENT_KINDS) + ")", name="kind"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    participant_id: Mapped[str] = _participant_fk(index=True)
    kind: Mapped[str] = mapped_column(String)
    granted: Mapped[bool] = mapped_column(Boolean)
    age_band: Mapped[str | None] = mapped_column(String)
    notice_version: Mapped[int] = mapped_column(Integer)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ConversationState(Base):
    __tablename__ = "conversation_states"

    participant_id: Mapped[str] = _participant_fk(primary_key=True)
    # Plain JSON rather than JSONB: the state is read and written whole, and JSON keeps
    # numbers exactly as written (JSONB turns 1e+20 into an integer).
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    version: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Campaign(Base):
    __tablename__ = "campaigns"

    id: Mapped[str] = mapped_column(String, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    source_hash: Mapped[str] = mapped_column(String)
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The file as published: every worker rebuilds the campaign from it, exactly as checked.
    source: Mapped[str | None] = mapped_column(Text)
    partner_id: Mapped[str | None] = mapped_column(String)


# council_reply: a council's answer to the young people of its city who took part in a campaign.
INVITATION_KINDS = ("invitation", "reminder", "council_reply")
INVITATION_STATUSES = ("queued", "claimed", "sending", "sent", "failed", "blocked", "dropped")
# Why a queued row already went to Telegram once and came back: Telegram's flood limit (429), or
# Telegram could not be reached.
RETRY_REASONS = ("telegram_limit", "unreachable")
RESPONSES = ("started", "not_now")


class CampaignRun(Base):
    """A campaign as offered now: its current version, who published it, whether it was closed.

    Seed campaigns (config.yml) are offered to whoever asks; published ones are also broadcast.
    """

    __tablename__ = "campaign_runs"

    campaign_id: Mapped[str] = mapped_column(String, primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    partner_id: Mapped[str | None] = mapped_column(String)
    broadcast: Mapped[bool] = mapped_column(Boolean)
    # Seeds first in config.yml's order, then published campaigns in the order they came.
    position: Mapped[int] = mapped_column(Integer)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Set from the console or `youthvoice campaign schedule`: these times replace the file's (local
    # wall-clock times in each city, naive like the file's; None: opens now, or never closes).
    opens_local: Mapped[datetime | None] = mapped_column(DateTime())
    closes_local: Mapped[datetime | None] = mapped_column(DateTime())
    scheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Participation(Base):
    """A participant started a campaign: the version they are pinned to until they finish it.

    Finishing is a row of its own (survey_completions), with the profile of that moment.
    """

    __tablename__ = "participations"
    __table_args__ = (Index(None, "campaign_id", "campaign_version"),)

    participant_id: Mapped[str] = _participant_fk(primary_key=True)
    campaign_id: Mapped[str] = mapped_column(String, primary_key=True)
    campaign_version: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Invitation(Base):
    """One message of a broadcast (an invitation, or its one reminder) to one participant.

    The unique key makes a second invitation to the same person impossible whatever the workers do.
    `sending` is written before the message leaves: a sender killed after that never sends it again.
    """

    __tablename__ = "invitations"
    __table_args__ = (
        UniqueConstraint("campaign_id", "participant_id", "kind"),
        Index(None, "status", "due_at"),
        CheckConstraint("kind IN (" + ", ".join(f"'{k}'" for k in INVITATION_KINDS) + ")", name="kind"),
        CheckConstraint("status IN (" + ", ".join(f"'{k}'" for k in INVITATION_STATUSES) + ")",
                        name="status"),
        CheckConstraint("retry_reason IN (" + ", ".join(f"'{r}'" for r in RETRY_REASONS) + ")",
                        name="retry_reason"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[str] = mapped_column(String)
    campaign_version: Mapped[int] = mapped_column(Integer)
    participant_id: Mapped[str] = _participant_fk(index=True)
    kind: Mapped[str] = mapped_column(String)
    status: Mapped[str] = mapped_column(String)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    claimed_by: Mapped[str | None] = mapped_column(String)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Set when it comes back to the queue after Telegram refused it for now: what it waits for.
    retry_reason: Mapped[str | None] = mapped_column(String)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    response: Mapped[str | None] = mapped_column(String)
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Answer(Base):
    """One participant's answer to one question.

    The age band, city and neighbourhood are those the participant had when answering, so that
    a later move does not rewrite what a council was told about its neighbourhoods.
    """

    __tablename__ = "answers"
    __table_args__ = (
        UniqueConstraint("participant_id", "campaign_id", "question_id"),
        Index(None, "campaign_id", "question_id"),
        # Digests read one city's answers over a period.
        Index(None, "city", "answered_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    participant_id: Mapped[str] = _participant_fk()
    campaign_id: Mapped[str] = mapped_column(String)
    campaign_version: Mapped[int] = mapped_column(Integer)
    question_id: Mapped[str] = mapped_column(String)
    number: Mapped[float | None] = mapped_column(Double)
    text: Mapped[str | None] = mapped_column(FreeText)
    # The text without phone numbers, names, addresses...: what exports and quotes read, and all
    # that remains once the retention period is over.
    scrubbed_text: Mapped[str | None] = mapped_column(FreeText)
    skipped: Mapped[bool] = mapped_column(Boolean)
    language: Mapped[str] = mapped_column(String)
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime())
    topic: Mapped[str | None] = mapped_column(String)
    topic_confidence: Mapped[float | None] = mapped_column(Double)
    understanding_pending: Mapped[bool] = mapped_column(Boolean, default=False)
    # Places and transport lines the NLU found in a typed answer: [[entity, value], ...].
    mentions: Mapped[list[list[str]] | None] = mapped_column(JSON)
    age_band: Mapped[str | None] = mapped_column(String)
    city: Mapped[str | None] = mapped_column(String)
    neighbourhood: Mapped[str | None] = mapped_column(String)
    options: Mapped[list["AnswerOption"]] = relationship(
        order_by="AnswerOption.position", cascade="all, delete-orphan", passive_deletes=True,
        lazy="selectin")

    @property
    def option_ids(self) -> list[str] | None:
        """The chosen options in the order they were chosen; None for an answer without options."""
        return [option.option_id for option in self.options] if self.options else None


class AnswerOption(Base):
    """One option chosen in an answer: a row each, so counting them is a plain GROUP BY anywhere."""

    __tablename__ = "answer_options"
    __table_args__ = (Index(None, "option_id"),)

    answer_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("answers.id", ondelete="CASCADE"), primary_key=True)
    option_id: Mapped[str] = mapped_column(String, primary_key=True)
    position: Mapped[int] = mapped_column(Integer)


class SurveyCompletion(Base):
    """A participant reached the end of a campaign; with the profile they had then, like answers."""

    __tablename__ = "survey_completions"
    __table_args__ = (Index(None, "city", "completed_at"),)

    participant_id: Mapped[str] = _participant_fk(primary_key=True)
    campaign_id: Mapped[str] = mapped_column(String, primary_key=True)
    campaign_version: Mapped[int] = mapped_column(Integer)
    completed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    age_band: Mapped[str | None] = mapped_column(String)
    city: Mapped[str | None] = mapped_column(String)
    neighbourhood: Mapped[str | None] = mapped_column(String)


# Only the few answers still waiting for the NLU are indexed.
Index(
    "ix_answers_pending",
    Answer.answered_at,
    sqlite_where=Answer.understanding_pending,
    postgresql_where=Answer.understanding_pending,
)


class HandledMessage(Base):
    """Inbound messages already processed, so a redelivered one is not processed twice."""

    __tablename__ = "handled_messages"
    __table_args__ = (Index(None, "handled_at"),)

    channel: Mapped[str] = mapped_column(String, primary_key=True)
    message_key: Mapped[str] = mapped_column(String, primary_key=True)
    participant_id: Mapped[str | None] = _participant_fk(nullable=True, index=True)
    handled_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PendingReply(Base):
    """A turn's reply until the channel has delivered it, so no outage loses it.

    Addressed by channel and address (a chat id) rather than by participant: the reply that
    confirms an erasure must outlive the participant it was for.
    """

    __tablename__ = "pending_replies"
    # AUTOINCREMENT: SQLite would otherwise hand a deleted reply's id to the next one, and a
    # late "delivered" report for the old reply would remove the new one.
    __table_args__ = (Index(None, "channel", "address"), Index(None, "due_at"),
                      {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String)
    address: Mapped[str] = mapped_column(String)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Until then whoever queued or last claimed it is delivering it; afterwards anyone may.
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # The conversation state version this reply was made for: once the conversation has moved on,
    # a reply still waiting is out of date and is dropped rather than sent.
    state_version: Mapped[int | None] = mapped_column(Integer)


class RateBudget(Base):
    """Telegram's send rate for one bot, shared by every worker: the time of the next free slot.

    Workers reserve slots by moving ``next_slot`` forward in one conditional update, so together
    they never send faster than the budget allows, however many there are.
    """

    __tablename__ = "rate_budgets"

    key: Mapped[str] = mapped_column(String, primary_key=True)
    # Seconds since the epoch; in the past when the budget is idle.
    next_slot: Mapped[float] = mapped_column(Double)


class DigestDelivery(Base):
    """One council's digest for one period on one channel: queued until delivered, never twice.

    The unique key is what makes a second worker or a second run find the digest already there;
    the rendered content is kept so that a retry sends exactly what was built.
    """

    __tablename__ = "digest_deliveries"
    __table_args__ = (UniqueConstraint("council_id", "period_start", "period_end", "channel"),
                      Index(None, "status", "due_at"), {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    council_id: Mapped[str] = mapped_column(String)
    period_start: Mapped[datetime] = mapped_column(UTCDateTime())
    period_end: Mapped[datetime] = mapped_column(UTCDateTime())
    # email, telegram or outbox (written to a folder when no SMTP server is configured).
    channel: Mapped[str] = mapped_column(String)
    status: Mapped[str] = mapped_column(String)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    # Figures of the digest for the next one to compare with, and for the log.
    summary: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Until then a worker is delivering it, or it waits for its next try.
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Telegram: messages already sent, so an interrupted delivery resumes where it stopped.
    progress: Mapped[int] = mapped_column(Integer, default=0)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(String)


ALERT_STATUSES = ("open", "closed")
DELIVERY_KINDS = ("telegram", "email", "participant")


class SafeguardingAlert(Base):
    """A message that disclosed harm, passed to the partner's safeguarding staff.

    Known to staff by ``ref`` only: neither the chat id nor the participant id leaves the database.
    The message itself is kept for the retention period, then only its scrubbed form.
    """

    __tablename__ = "safeguarding_alerts"
    __table_args__ = (
        CheckConstraint("status IN (" + ", ".join(f"'{s}'" for s in ALERT_STATUSES) + ")", name="status"),
        Index(None, "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ref: Mapped[str] = mapped_column(String(16), unique=True)
    participant_id: Mapped[str] = _participant_fk(index=True)
    category: Mapped[str] = mapped_column(String)
    categories: Mapped[list[str]] = mapped_column(JSON)
    message: Mapped[str | None] = mapped_column(FreeText)
    scrubbed: Mapped[str] = mapped_column(FreeText)
    city: Mapped[str | None] = mapped_column(String)
    language: Mapped[str] = mapped_column(String)
    status: Mapped[str] = mapped_column(String, default="open")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SafeguardingStep(Base):
    """One thing that happened to an alert, and who did it: raised, delivered, replied, closed."""

    __tablename__ = "safeguarding_steps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("safeguarding_alerts.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String)
    action: Mapped[str] = mapped_column(String)
    note: Mapped[str | None] = mapped_column(FreeText)


class SafeguardingDelivery(Base):
    """A message about an alert still to deliver: to staff (Telegram chat, e-mail) or a staff
    reply to the young person. Kept and retried until delivered; removed with the alert."""

    __tablename__ = "safeguarding_deliveries"
    __table_args__ = (
        CheckConstraint("kind IN (" + ", ".join(f"'{k}'" for k in DELIVERY_KINDS) + ")", name="kind"),
        Index(None, "delivered_at", "due_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("safeguarding_alerts.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String)
    # A staff chat id or e-mail address; empty for the young person (found from the alert).
    address: Mapped[str] = mapped_column(String)
    text: Mapped[str | None] = mapped_column(FreeText)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(String)


class TurnedAway(Base):
    """A chat turned away for its age, known by a keyed hash of its id, until ``until``."""

    __tablename__ = "turned_away"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    until: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class CouncilReply(Base):
    """What a council answers the young people of its city about a campaign ("you said / we will").

    One per council and campaign: the unique key is what makes a second `council reply` refuse
    instead of messaging everyone again. Sent through the broadcaster (invitations of kind
    council_reply), which keeps who received it.
    """

    __tablename__ = "council_replies"
    __table_args__ = (UniqueConstraint("council_id", "campaign_id"), Index(None, "campaign_id", "city"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    council_id: Mapped[str] = mapped_column(String)
    campaign_id: Mapped[str] = mapped_column(String)
    city: Mapped[str] = mapped_column(String)
    text_fr: Mapped[str] = mapped_column(Text)
    text_en: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ResultSnapshot(Base):
    """A city's aggregates over some campaigns, as last computed for the results pages.

    Pages read this row instead of counting every answer again; it is recomputed when answers
    arrived since (at most once a minute), and never again once every campaign in it has closed
    (late answers are not kept). An erasure forgets every snapshot.
    """

    __tablename__ = "result_snapshots"

    city: Mapped[str] = mapped_column(String, primary_key=True)
    # The campaign ids, sorted and comma-separated; "*" for all of the city's campaigns.
    campaigns: Mapped[str] = mapped_column(String, primary_key=True)
    aggregates: Mapped[dict[str, Any]] = mapped_column(JSON)
    # The highest answer id when it was computed: a higher one means answers arrived since.
    answer_mark: Mapped[int] = mapped_column(Integer)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime())
