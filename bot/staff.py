"""What safeguarding staff do with alerts (`youthvoice safeguarding ...`): every step recorded."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from bot.engine.community import Community
from bot.engine.texts import N_, Catalog
from storage import safeguarding as alerts_repo

RELAYED = N_("A message from a trained person at {partner}, about what you told us:\n\n{text}\n\n"
             "You can answer here.")
RELAYED_NO_PARTNER = N_("A message from a trained person, about what you told us:\n\n{text}\n\n"
                        "You can answer here.")


class UnknownAlertError(LookupError):
    def __init__(self, ref: str) -> None:
        super().__init__(f"no safeguarding alert {ref!r} (see `youthvoice safeguarding list`)")


@dataclass(frozen=True)
class AlertLine:
    ref: str
    created_at: datetime
    category: str
    city: str | None
    status: str


class Staff:
    def __init__(self, sessions: sessionmaker[Session], community: Community, catalog: Catalog,
                 clock: Callable[[], datetime]) -> None:
        self.sessions = sessions
        self.community = community
        self.catalog = catalog
        self.clock = clock

    def list(self, include_closed: bool = False) -> list[AlertLine]:
        with self.sessions() as session:
            return [AlertLine(a.ref, a.created_at, a.category, a.city, a.status)
                    for a in alerts_repo.alerts(session, None if include_closed else "open")]

    def show(self, ref: str, actor: str) -> str:
        """The alert, its message and every step so far; looking at it is a step too."""
        now = self.clock()
        with self.sessions.begin() as session:
            alert = alerts_repo.alert(session, ref)
            if alert is None:
                raise UnknownAlertError(ref)
            alerts_repo.record_step(session, alert.id, actor, "viewed", now)
            session.flush()
            lines = [
                f"{alert.ref} ({alert.status})",
                f"raised:     {alert.created_at:%Y-%m-%d %H:%M} UTC",
                f"categories: {', '.join(alert.categories)}",
                f"city:       {alert.city or 'not known yet'}",
                f"language:   {alert.language}",
                f"message:    {alert.message if alert.message is not None else alert.scrubbed}",
            ]
            if alert.message is None:
                lines.append("            (past the retention period: scrubbed text only)")
            lines.append("steps:")
            for step in alerts_repo.steps(session, alert.id):
                note = f": {step.note}" if step.note else ""
                lines.append(f"  {step.at:%Y-%m-%d %H:%M} {step.actor} {step.action}{note}")
            waiting = [d for d in alerts_repo.deliveries(session, alert.id) if d.delivered_at is None]
            for delivery in waiting:
                lines.append(f"  waiting: {delivery.kind} delivery, {delivery.attempts} failed "
                             f"attempt(s){f' ({delivery.last_error})' if delivery.last_error else ''}")
        return "\n".join(lines)

    def reply(self, ref: str, actor: str, text: str) -> None:
        """Relay a staff message to the young person, through the bot, in their language."""
        if not text.strip():
            raise ValueError("the reply is empty")
        now = self.clock()
        with self.sessions.begin() as session:
            alert = alerts_repo.alert(session, ref)
            if alert is None:
                raise UnknownAlertError(ref)
            partner = self.community.partner_for(alert.city)
            template = RELAYED if partner else RELAYED_NO_PARTNER
            message = self.catalog.gettext(alert.language, template).format(partner=partner,
                                                                            text=text.strip())
            alerts_repo.queue_relay(session, alert.id, message, now)
            alerts_repo.record_step(session, alert.id, actor, "replied", now, text.strip())

    def close(self, ref: str, actor: str, note: str | None = None) -> None:
        now = self.clock()
        with self.sessions.begin() as session:
            alert = alerts_repo.alert(session, ref)
            if alert is None:
                raise UnknownAlertError(ref)
            alerts_repo.close(session, alert.id)
            alerts_repo.record_step(session, alert.id, actor, "closed", now, note)
