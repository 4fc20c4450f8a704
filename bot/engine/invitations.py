"""Answers to campaign invitations (Start / Not now), and late answers to a closed campaign."""

from __future__ import annotations

from bot.engine import campaigns
from bot.engine.messages import EventType
from bot.engine.state import Phase
from bot.engine.texts import N_
from bot.engine.turn import TurnBase

ALREADY_DONE = N_("You have already answered this survey: thank you!")
FINISH_FIRST = N_("Let's finish this survey first: “{title}” starts right after.")
PUT_OFF = N_("No problem. If you change your mind, send /start.")


class Invitations(TurnBase):
    def invitation_pressed(self, campaign_id: str, start: bool) -> None:
        survey = next((s for s in self.ctx.campaigns if s.id == campaign_id), None)
        state = self.state
        if not start:
            self.acknowledgement = self.tr(campaigns.LATER_LABEL)
            self.emit(EventType.INVITATION_DECLINED, campaign=campaign_id)
            if campaign_id not in state.declined:
                self.update(declined=(*state.declined, campaign_id))
            self.say(self.tr(PUT_OFF))
            if state.phase is Phase.SURVEY:
                self.repeat()
            return
        self.acknowledgement = self.tr(campaigns.START_LABEL)
        if survey is None or self.ctx.window(campaign_id).has_closed(state.city, self.inbound.now):
            self.say(self.tr(campaigns.CLOSED))
            self.repeat()
            return
        if campaign_id in state.completed:
            self.say(self.tr(ALREADY_DONE))
            return
        self.emit(EventType.INVITATION_ACCEPTED, campaign=campaign_id)
        if state.phase is Phase.SURVEY and state.campaign == campaign_id:
            self.repeat()
        elif state.phase is Phase.SURVEY:
            # Answers of two campaigns never interleave: this one waits for the current one to end.
            self.update(invited=(*state.invited, campaign_id),
                        declined=tuple(c for c in state.declined if c != campaign_id))
            self.say(self.tr(FINISH_FIRST, title=survey.title.in_(self.lang)))
            self.repeat()
        elif state.phase is Phase.IDLE:
            self.begin(survey)
        else:
            self.repeat()

    def current_campaign_closed(self) -> bool:
        state = self.state
        return (state.phase is Phase.SURVEY and state.campaign is not None
                and self.ctx.window(state.campaign).has_closed(state.city, self.inbound.now))

    def campaign_closed(self) -> None:
        """A late answer: thank them, store nothing, and leave the campaign."""
        self.emit(EventType.SURVEY_CLOSED, campaign=self.state.campaign)
        self.say(self.tr(campaigns.CLOSED))
        self.update(phase=Phase.IDLE, campaign=None, campaign_version=None, question=None,
                    history=(), answers={}, selection=(), invalid_count=0)
