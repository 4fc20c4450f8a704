"""The conversation engine: step(context, state, inbound) -> Step. Pure: no I/O, no clock, no globals.

Onboarding (language, age band, parental consent when needed, privacy notice and consent, city,
neighbourhood) then the open campaigns for the participant's city, one question at a time. Each
part lives in its own module; this one routes a message to the part that handles it.
"""

from __future__ import annotations

from bot.engine import callbacks, campaigns, texts
from bot.engine.commands import Commands
from bot.engine.invitations import Invitations
from bot.engine.messages import EventType, Inbound, InboundKind, Step
from bot.engine.onboarding import Onboarding
from bot.engine.profile import MENU
from bot.engine.questionnaire import Questionnaire
from bot.engine.state import ConversationState, Pending, Phase
from bot.engine.support import Support
from bot.engine.turn import WELCOME_BACK_AFTER, Context

__all__ = ["Context", "step"]


def step(context: Context, state: ConversationState, inbound: Inbound) -> Step:
    """Apply one inbound message to a conversation."""
    return _Turn(context, state, inbound).run()


class _Turn(Support, Commands, Onboarding, Questionnaire, Invitations):
    def run(self) -> Step:
        previous = self.state.seen_at()
        self.returning = previous is not None and self.inbound.now - previous > WELCOME_BACK_AFTER
        self.apply_language(self.inbound.language)
        if self.inbound.language_evidence is not None:
            self.update(language_evidence=self.inbound.language_evidence)
        self.update(last_seen=self.inbound.now.isoformat())
        kind = self.inbound.kind
        if self.inbound.turned_away and self.state.phase is Phase.NEW:
            # A disclosure is still heard; anything else gets the same answer as before.
            if not (kind is InboundKind.TEXT and self.disclosure(self.inbound.text)):
                self.cooling_down()
            return self.result()
        if (kind is InboundKind.BUTTON and self.state.pending is None and not self.state.stopped
                and self.current_campaign_closed()):
            self.campaign_closed()
        elif kind is InboundKind.COMMAND:
            self.command(self.inbound.command)
        elif kind is InboundKind.BUTTON:
            self.button(self.inbound.data)
        elif kind is InboundKind.TEXT:
            self.text(self.inbound.text)
        elif kind is InboundKind.EDITED:
            if self.disclosure(self.inbound.text):
                return self.result()
            if not self.state.stopped:
                self.say(self.tr("I can't take edited messages into account. To change your "
                                 "previous answer, send /back."))
        else:
            self.unsupported()
        if self.inbound.offer_language:
            self.offer_language()
        return self.result()

    def result(self) -> Step:
        return Step(self.state, tuple(self.outbound), tuple(self.answers), tuple(self.events),
                    self.acknowledgement)

    def button(self, data: str) -> None:
        payload = callbacks.decode(data)
        if payload is None:
            self.reject("unknown_button", self.tr(texts.UNREADABLE_BUTTON))
            return
        if payload.scope == callbacks.DATA and payload.parts[0].isdigit():
            # Reading what we keep is always allowed, stopped or not.
            self.emit(EventType.DATA_REQUESTED, page=int(payload.parts[0]))
            return
        if self.state.stopped:
            self.say(self.tr(texts.STOPPED))
            return
        parts = payload.parts
        if payload.scope == callbacks.INVITE:
            self.invitation_pressed(parts[0], parts[1] == campaigns.START)
            return
        if payload.scope == callbacks.LANGUAGE:
            if (self.state.pending is Pending.LANGUAGE or self.state.language is None
                    or (self.state.language_offered and not self.state.language_locked)):
                self.choose_language(parts[0])
                return
        elif payload.scope == callbacks.CONFIRM:
            if self.state.pending is not None and parts[0] == self.state.pending.value:
                self.confirmed(parts[1] == "yes")
                return
        elif payload.scope == callbacks.ONBOARDING and self.state.pending is None:
            if parts[0] == MENU and self.state.profile_edit == MENU:
                self.menu_answer(parts[1], pressed=True)
                return
            if parts[0] == self.onboarding_phase.value and self.state.profile_edit != MENU:
                self.onboarding_answer(parts[1], pressed=True)
                return
        elif (payload.scope == callbacks.ANSWER and self.state.phase is Phase.SURVEY
              and self.state.pending is None
              and (parts[0], parts[1]) == (self.state.campaign, self.state.question)):
            self.question_button(parts[2])
            return
        self.reject("stale_button",
                    self.tr(texts.STALE_BUTTON))

    def text(self, text: str) -> None:
        # First of all: a disclosure of harm is never read as a command or an answer.
        if self.disclosure(text):
            return
        if self.state.stopped:
            self.say(self.tr(texts.STOPPED))
            return
        if self.state.pending is not None and self.pending_text(text):
            return
        self.update(pending=None)
        typed = self.typed_command(text)
        if typed is not None:
            self.command_from_text(typed)
            return
        phase = self.state.phase
        if self.state.profile_edit == MENU:
            self.menu_answer(text, pressed=False)
        elif self.state.profile_edit is not None:
            self.onboarding_answer(text, pressed=False)
        elif phase is Phase.NEW:
            self.start()
        elif phase is Phase.LANGUAGE:
            self.ask_language()
        elif phase is Phase.SURVEY and self.current_campaign_closed():
            self.campaign_closed()
        elif phase is Phase.SURVEY:
            self.survey_text(text)
        elif phase is Phase.IDLE:
            self.idle()
        else:
            self.onboarding_answer(text, pressed=False)

    def cooling_down(self) -> None:
        """Turned away for their age a short while ago: the same answer, without asking again."""
        self.emit(EventType.NOT_ELIGIBLE, reason="cooldown")
        self.say(self.tr("You told us a short while ago that you are too young to take part, so we "
                         "can't ask you our questions for now. We have kept nothing about you."))

    def unsupported(self) -> None:
        if self.state.stopped:
            return
        self.say(self.tr("I can only read text and buttons for now."))
        self.repeat()

    def repeat(self) -> None:
        """Show again what the participant is expected to answer."""
        if self.state.stopped:
            return
        phase = self.state.phase
        if self.state.profile_edit == MENU:
            self.profile_menu()
        elif self.state.profile_edit is not None:
            self.ask_onboarding()
        elif phase is Phase.NEW:
            self.start()
        elif phase is Phase.LANGUAGE:
            self.ask_language()
        elif phase is Phase.IDLE:
            self.idle()
        elif phase is Phase.SURVEY:
            question = self.current_question()
            if question is None:
                # The campaign was withdrawn or changed under this conversation.
                self.update(phase=Phase.IDLE)
                self.next_campaign()
            else:
                self.ask(question, previous=self.state.answers.get(question.id))
        else:
            self.ask_onboarding()
