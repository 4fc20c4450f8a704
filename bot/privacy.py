"""What /mydata shows: everything kept about a participant, in their language."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime

from bot.engine.conversation import Context
from bot.engine.texts import Catalog
from storage.records import ParticipantData


def describe_data(data: ParticipantData, language: str, catalog: Catalog, context: Context, *,
                  passed_to_staff: Sequence[datetime] = ()) -> str:
    def tr(message: str, **values: object) -> str:
        return catalog.gettext(language, message).format(**values)

    unset = tr("not given")
    city = context.community.city(data.city)
    place = next((p for p in city.neighbourhoods if p.id == data.neighbourhood), None) if city else None
    lines = [
        tr("Here is everything we keep about you:"),
        tr("- Pseudonymous id: {id}", id=data.participant_id[:8]),
        tr("- Since: {date}", date=data.created_at.date().isoformat()),
        tr("- Language: {language}", language={"fr": "français", "en": "English"}.get(
            data.language or "", unset)),
        tr("- Age band: {band}", band=data.age_band or unset),
        tr("- City: {city}", city=city.name.in_(language) if city else (data.city or unset)),
        tr("- Neighbourhood: {place}", place=place.name.in_(language) if place else unset),
    ]
    for consent in data.consents:
        kind = tr("Your consent") if consent.kind == "participation" else tr("A parent's consent")
        lines.append(tr("- {kind}, given on {date} (privacy notice v{version})", kind=kind,
                        date=consent.recorded_at.date().isoformat(), version=consent.notice_version))
    titles = {s.id: s.title.in_(language) for s in context.campaigns}
    for campaign, count in sorted(data.answers_per_campaign.items()):
        lines.append(tr("- {count} answer(s) to \"{campaign}\"", count=count,
                        campaign=titles.get(campaign, campaign)))
    days = Counter(moment.date().isoformat() for moment in passed_to_staff)
    for day, count in sorted(days.items()):
        lines.append(tr("- {count} message(s) you sent on {date} passed to a trained safeguarding "
                        "person (without your name or account).", count=count, date=day))
    if data.stopped_at is not None:
        lines.append(tr("- You stopped messages on {date}.", date=data.stopped_at.date().isoformat()))
    lines.append(tr("Your chat account is kept apart from your answers. Send /delete to erase "
                    "everything."))
    return "\n".join(lines)
