"""The questionnaire: the open campaigns for the participant's city, one question at a time,
with branching, skip and back."""

from __future__ import annotations

from typing import Any

from bot.engine import callbacks, texts
from bot.engine.community import OTHER_CITY
from bot.engine.cues import HEDGES, Answer, asks, has_phrase, is_dont_know, yes_or_no
from bot.engine.matching import normalize, parse_number
from bot.engine.messages import AnswerRecord, Choice, EventType
from bot.engine.state import Phase
from bot.engine.survey import END, Option, Question, QuestionType, Survey
from bot.engine.turn import TurnBase
from bot.engine.understanding import mentions_of, topic_of

# From this many words, a typed answer to a multiple-choice question is a sentence: kept as it is.
SENTENCE_WORDS = 4
# A question back longer than this may still be an answer ("why is there no bus at night?").
QUESTION_BACK_WORDS = 6


class Questionnaire(TurnBase):
    def open_campaigns(self) -> list[Survey]:
        """What to offer now: open, meant for this participant, not done, not put off; chosen first."""
        state = self.state
        if state.city == OTHER_CITY and not state.elsewhere_ok:
            return []
        offered = [s for s in self.ctx.campaigns
                   if s.id not in state.completed and s.id not in state.declined
                   and self.is_for_me(s)]
        return sorted(offered, key=lambda s: s.id not in state.invited)

    def is_for_me(self, survey: Survey) -> bool:
        state = self.state
        return (survey.audience.includes(state.city, state.neighbourhood, state.age_band, self.lang)
                and self.ctx.window(survey.id).is_open(state.city, self.inbound.now))

    def next_campaign(self) -> None:
        remaining = self.open_campaigns()
        if not remaining:
            self.update(phase=Phase.IDLE, campaign=None, campaign_version=None, question=None)
            self.say(self.tr(texts.NO_SURVEY))
            return
        self.begin(remaining[0])

    def begin(self, survey: Survey) -> None:
        self.update(phase=Phase.SURVEY, campaign=survey.id, campaign_version=survey.version,
                    history=(), answers={}, selection=(), invalid_count=0,
                    invited=tuple(c for c in self.state.invited if c != survey.id),
                    declined=tuple(c for c in self.state.declined if c != survey.id))
        self.emit(EventType.SURVEY_STARTED, campaign=survey.id, version=survey.version)
        self.say(f"{survey.title.in_(self.lang)}\n{self.campaign_text(survey.intro)}")
        self.advance_from(0)

    def idle(self) -> None:
        if self.state.city == OTHER_CITY and not self.state.elsewhere_ok:
            # They said no when told no council would hear them: the choice stays theirs.
            self.enter(Phase.ELSEWHERE)
        elif self.open_campaigns():
            self.next_campaign()
        else:
            self.say(self.tr(texts.NO_SURVEY))

    def current_survey(self) -> Survey | None:
        """The version this participant started, even if a newer one was published since."""
        state = self.state
        if state.phase is not Phase.SURVEY or state.campaign is None:
            return None
        pinned = self.ctx.versions.get((state.campaign, state.campaign_version or 0))
        if pinned is not None:
            return pinned
        return next((s for s in self.ctx.campaigns
                     if s.id == state.campaign and s.version == state.campaign_version), None)

    def current_question(self) -> Question | None:
        survey = self.current_survey()
        return survey.question(self.state.question) if survey and self.state.question else None

    def ask(self, question: Question, previous: Any = None, replace: bool = False) -> None:
        survey = self.current_survey()
        assert survey is not None
        lines = [question.text.in_(self.lang)]
        if question.type is QuestionType.SCALE and question.low_label and question.high_label:
            lines.append(f"1 = {question.low_label.in_(self.lang)} … "
                         f"5 = {question.high_label.in_(self.lang)}")
        if question.type is QuestionType.MULTIPLE:
            lines.append(self.tr("Tap all that apply, then Done."))
        if question.type is QuestionType.NUMBER:
            lines.append(self.number_hint(question))
        if previous is not None and not replace:
            lines.append(self.tr("Your previous answer: {answer}",
                                 answer=self.describe(question, previous)))
        choices = [Choice(self.choice_label(question, o), callbacks.answer(survey.id, question.id, o.id))
                   for o in question.options]
        if question.type is QuestionType.MULTIPLE:
            choices.append(Choice(self.tr("Done ✔"),
                                  callbacks.answer(survey.id, question.id, callbacks.DONE)))
        if self.state.history:
            choices.append(Choice(self.tr(texts.BACK_BUTTON),
                                  callbacks.answer(survey.id, question.id, callbacks.BACK)))
        if not question.required:
            choices.append(Choice(self.tr(texts.SKIP_BUTTON),
                                  callbacks.answer(survey.id, question.id, callbacks.SKIP)))
        self.say("\n".join(lines), choices, replace,
                 expects_text=question.type in (QuestionType.NUMBER, QuestionType.TEXT))
        if not replace:
            self.emit(EventType.QUESTION_ASKED, campaign=survey.id, question=question.id)

    def choice_label(self, question: Question, option: Option) -> str:
        label = option.label.in_(self.lang)
        if question.type is QuestionType.MULTIPLE and option.id in self.state.selection:
            return f"✅ {label}"
        return label

    def number_hint(self, question: Question) -> str:
        if question.min is not None and question.max is not None:
            return self.tr("Send a number from {low} to {high}.", low=f"{question.min:g}",
                           high=f"{question.max:g}")
        return self.tr("Send a number.")

    def describe(self, question: Question, answer: dict[str, Any]) -> str:
        if answer.get("skipped"):
            return self.tr("skipped")
        if "options" in answer:
            labels = [o.label.in_(self.lang) for o in question.options if o.id in answer["options"]]
            return ", ".join(labels)
        if "number" in answer:
            return f"{answer['number']:g}"
        return str(answer.get("text", ""))

    def question_button(self, value: str) -> None:
        question = self.current_question()
        assert question is not None
        if value in {callbacks.SKIP, callbacks.BACK}:
            self.control(value)
        elif value == callbacks.DONE and question.type is QuestionType.MULTIPLE:
            self.finish_multiple(question)
        elif question.option(value) is None:
            self.reject("stale_button",
                        self.tr(texts.STALE_BUTTON))
        elif question.type is QuestionType.MULTIPLE:
            selection = set(self.state.selection) ^ {value}
            self.update(selection=tuple(o.id for o in question.options if o.id in selection))
            self.ask(question, replace=True)
        else:
            self.choose(question, (value,))

    def survey_text(self, text: str) -> None:
        question = self.current_question()
        if question is None:
            self.repeat()
            return
        if question.type is QuestionType.TEXT:
            self.open_answer(question, text)
        elif question.type is QuestionType.NUMBER:
            self.number_answer(question, text)
        elif question.type is QuestionType.YES_NO:
            self.yes_no_answer(question, text)
        elif question.type is QuestionType.MULTIPLE:
            self.multiple_answer(question, text)
        else:
            self.single_answer(question, text)

    def scale_options(self, question: Question) -> tuple[Option, ...]:
        """A scale's points, with its end labels as words for 1 and 5 ('pas du tout')."""
        ends = {"1": question.low_label, "5": question.high_label}
        options = []
        for option in question.options:
            end = ends.get(option.id)
            options.append(Option(option.id, option.label, (end.fr, end.en)) if end else option)
        return tuple(options)

    def single_answer(self, question: Question, text: str) -> None:
        options = question.options
        if question.type is QuestionType.SCALE:
            options = self.scale_options(question)
            number = parse_number(text, zero_words=False)
            if number is not None and not is_dont_know(normalize(text).split()):
                point = str(int(number))
                if point not in {o.id for o in options} or number != int(number):
                    self.invalid(self.tr(texts.NOT_UNDERSTOOD))
                elif has_phrase(normalize(text).split(), HEDGES):
                    self.ask_which_option(question, (point,))
                else:
                    self.choose(question, (point,))
                return
        reading = self.reading(text, options)
        if len(reading.chosen) == 1 and not reading.hedged:
            # Another option ruled out on the way is fine: "pas en bus, à pied".
            self.choose(question, reading.chosen)
        elif reading.chosen:
            self.ask_which_option(question, reading.chosen)
        elif self.not_an_answer(text):
            self.offer_skip(question)
        elif reading.negated:
            labels = [self.quoted(o.label.in_(self.lang)) for o in options if o.id in reading.negated]
            self.invalid(self.tr(texts.NOT_THAT, choices=self.or_list(labels)))
        else:
            self.invalid(self.tr(texts.NOT_UNDERSTOOD))

    def multiple_answer(self, question: Question, text: str) -> None:
        reading = self.reading(text, question.options)
        if reading.clear:
            self.choose(question, reading.chosen)
            return
        words = normalize(text).split()
        if self.not_an_answer(text):
            self.offer_skip(question)
        elif len(words) >= SENTENCE_WORDS:
            # Their words are kept, with a topic; which options apply is theirs to tick.
            earlier = self.state.comment["text"] + "\n" if self.state.comment else ""
            comment = (earlier + text.strip())[:question.max_length]
            topic, confidence = topic_of(self.inbound.understanding)
            survey = self.current_survey()
            assert survey is not None
            self.answers.append(AnswerRecord(
                campaign_id=survey.id, campaign_version=survey.version, question_id=question.id,
                language=self.lang, answered_at=self.inbound.now, text=comment, topic=topic,
                topic_confidence=confidence, understanding_pending=not self.inbound.understood,
                comment=True))
            self.emit(EventType.COMMENT_KEPT, campaign=survey.id, question=question.id)
            self.update(comment={"text": comment, "topic": topic, "confidence": confidence},
                        invalid_count=0)
            self.say(self.tr(texts.COMMENT_KEPT))
            self.ask(question)
        elif reading.chosen:
            self.ask_which_option(question, reading.chosen)
        else:
            self.invalid(self.tr(texts.NOT_UNDERSTOOD))

    def yes_no_answer(self, question: Question, text: str) -> None:
        answer = yes_or_no(text, normalize(text).split(), lenient=True)
        if answer in {Answer.YES, Answer.NO}:
            self.choose(question, (answer.value,))
        elif self.not_an_answer(text):
            self.offer_skip(question)
        else:
            self.invalid(self.tr(texts.NOT_UNDERSTOOD))

    def ask_which_option(self, question: Question, candidates: tuple[str, ...]) -> None:
        """Not sure what was meant: the candidate options as buttons, and the way out."""
        survey = self.current_survey()
        assert survey is not None
        self.emit(EventType.INPUT_REJECTED, reason="unsure")
        options = [o for o in question.options if o.id in candidates]
        choices = [Choice(o.label.in_(self.lang), callbacks.answer(survey.id, question.id, o.id))
                   for o in options]
        if not question.required:
            choices.append(Choice(self.tr(texts.SKIP_BUTTON),
                                  callbacks.answer(survey.id, question.id, callbacks.SKIP)))
        labels = [self.quoted(o.label.in_(self.lang)) for o in options]
        self.say(self.tr(texts.DO_YOU_MEAN, choices=self.or_list(labels)), choices)

    def not_an_answer(self, text: str) -> bool:
        """'?', 'jsp', 'idk', a short question back: nothing to store."""
        words = normalize(text).split()
        if not words:
            return "?" in text
        return is_dont_know(words) or (asks(text, words) and len(words) <= QUESTION_BACK_WORDS)

    def required_reason(self, question: Question) -> str:
        why = question.why.in_(self.lang) if question.why else ""
        return self.tr(texts.REQUIRED, why=why)

    def offer_skip(self, question: Question) -> None:
        self.emit(EventType.INPUT_REJECTED, reason="no_answer")
        if question.required:
            self.say(self.required_reason(question))
        else:
            self.say(self.tr(texts.YOU_CAN_SKIP))
        self.repeat()

    def control(self, value: str) -> None:
        question = self.current_question()
        if question is None:
            self.repeat()
            return
        if value == callbacks.BACK:
            self.back()
        elif question.required:
            self.emit(EventType.INPUT_REJECTED, reason="required")
            self.say(self.required_reason(question))
            self.repeat()
        else:
            self.acknowledgement = self.tr(texts.SKIP_BUTTON)
            self.emit(EventType.QUESTION_SKIPPED, question=question.id)
            self.record(question, {"skipped": True}, skipped=True)
            self.advance(question, None)

    def back(self) -> None:
        if not self.state.history:
            self.say(self.tr(texts.FIRST_QUESTION))
            self.repeat()
            return
        previous = self.state.history[-1]
        self.acknowledgement = self.tr(texts.BACK_BUTTON)
        self.update(history=self.state.history[:-1], question=previous, selection=(),
                    invalid_count=0, comment=None)
        self.emit(EventType.WENT_BACK, question=previous)
        question = self.current_question()
        assert question is not None
        answer = self.state.answers.get(previous)
        if question.type is QuestionType.MULTIPLE and answer and "options" in answer:
            self.update(selection=tuple(answer["options"]))
        self.ask(question, previous=answer)

    def finish_multiple(self, question: Question) -> None:
        if not self.state.selection:
            self.invalid(self.tr("Choose at least one option, then Done."))
            return
        self.choose(question, self.state.selection)

    def choose(self, question: Question, option_ids: tuple[str, ...]) -> None:
        labels = [o.label.in_(self.lang) for o in question.options if o.id in option_ids]
        self.acknowledgement = ", ".join(labels)
        self.record(question, {"options": list(option_ids)}, option_ids=option_ids)
        goto = next((o.next for o in question.options if o.id in option_ids and o.next), None)
        self.advance(question, goto)

    def number_answer(self, question: Question, text: str) -> None:
        number = parse_number(text)
        if number is None and self.not_an_answer(text):
            self.offer_skip(question)
            return
        if number is None or (question.integer and number != int(number)) or (
                question.min is not None and number < question.min) or (
                question.max is not None and number > question.max):
            self.invalid(self.tr("Sorry, that isn't a number I can use.") + " "
                         + self.number_hint(question))
            return
        self.acknowledgement = f"{number:g}"
        self.record(question, {"number": number}, number=number)
        self.advance(question, None)

    def open_answer(self, question: Question, text: str) -> None:
        answer = text.strip()
        if not answer:
            self.invalid(self.tr("Type your answer, or tap Skip."))
            return
        if self.not_an_answer(answer):
            self.offer_skip(question)
            return
        if len(answer) > question.max_length:
            self.invalid(self.tr("That's a bit long: please keep it under {limit} characters.",
                                 limit=question.max_length))
            return
        topic, confidence = topic_of(self.inbound.understanding)
        self.record(question, {"text": answer}, text=answer, topic=topic,
                    topic_confidence=confidence, understanding_pending=not self.inbound.understood,
                    mentions=mentions_of(self.inbound.understanding))
        self.advance(question, None)

    def record(self, question: Question, summary: dict[str, Any], **fields: Any) -> None:
        survey = self.current_survey()
        assert survey is not None
        comment = self.state.comment
        if comment and "text" not in fields:
            # The words they typed before ticking stay with the answer.
            fields.update(text=comment["text"], topic=comment.get("topic"),
                          topic_confidence=comment.get("confidence"))
        self.answers.append(AnswerRecord(
            campaign_id=survey.id, campaign_version=survey.version, question_id=question.id,
            language=self.lang, answered_at=self.inbound.now, **fields))
        if not summary.get("skipped"):
            self.emit(EventType.ANSWER_RECORDED, campaign=survey.id, question=question.id)
        self.update(answers={**self.state.answers, question.id: summary},
                    history=(*self.state.history, question.id), selection=(), invalid_count=0,
                    comment=None)

    def advance(self, question: Question, goto: str | None) -> None:
        survey = self.current_survey()
        assert survey is not None
        target = goto or question.next
        if target == END:
            self.complete(survey)
            return
        start = survey.index(target) if target else survey.index(question.id) + 1
        self.advance_from(start)

    def advance_from(self, start: int) -> None:
        survey = self.current_survey()
        assert survey is not None
        for question in survey.questions[start:]:
            if self.shown(question):
                self.update(question=question.id, selection=(), invalid_count=0, comment=None)
                self.ask(question)
                return
        self.complete(survey)

    def shown(self, question: Question) -> bool:
        condition = question.show_if
        if condition is None:
            return True
        answer = self.state.answers.get(condition.question) or {}
        if condition.any_of:
            return bool(set(answer.get("options", ())) & set(condition.any_of))
        number = answer.get("number")
        if number is None:
            return False
        return ((condition.min is None or number >= condition.min)
                and (condition.max is None or number <= condition.max))

    def complete(self, survey: Survey) -> None:
        self.emit(EventType.SURVEY_COMPLETED, campaign=survey.id, version=survey.version)
        self.say(self.campaign_text(survey.closing))
        self.update(completed=(*self.state.completed, survey.id), question=None, history=(),
                    answers={}, phase=Phase.IDLE)
        if self.open_campaigns():
            self.next_campaign()
