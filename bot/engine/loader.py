"""Read a survey campaign from YAML text and check it, reporting every problem with file, line and field.

The loader takes text, not a path, so the engine stays free of I/O; callers read the file.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.engine import callbacks
from bot.engine.community import Community
from bot.engine.survey import (
    CHOICE_TYPES,
    END,
    LANGUAGES,
    Audience,
    Condition,
    Option,
    Question,
    QuestionType,
    Schedule,
    Survey,
    Text,
)
from bot.engine.texts import N_, Catalog, Term
from bot.engine.yaml_lines import LineDict, LineList, YamlSyntaxError, parse

SCHEMA_VERSION = 1
MAX_MESSAGE = 4096
ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
LANGUAGE_NAMES = {"fr": Term(N_("French")), "en": Term(N_("English"))}

AUDIENCE_FIELDS = ("cities", "neighbourhoods", "age_bands", "languages")
SCHEDULE_FIELDS = ("opens", "closes", "reminder")
TOP_FIELDS = {"schema", "id", "version", "title", "intro", "closing", "questions",
              *AUDIENCE_FIELDS, *SCHEDULE_FIELDS}
REMINDER = re.compile(r"^(\d+)\s*(h|hours?|heures?|d|days?|jours?)$", re.IGNORECASE)
QUESTION_FIELDS = {
    "id", "type", "text", "required", "options", "min", "max", "integer", "low", "high",
    "show_if", "next", "max_length", "why",
}
OPTION_FIELDS = {"id", "label", "synonyms", "next"}
CONDITION_FIELDS = {"question", "any_of", "min", "max"}

_SKIP_PROMISE_FR = re.compile(r"\bpasser\b", re.IGNORECASE)
_SKIP_PROMISE_EN = re.compile(r"\bskip", re.IGNORECASE)

YES_NO = (
    Option("yes", Text("Oui", "Yes"),
           ("oui", "ouais", "ouaip", "wi", "yes", "yeah", "yep", "ok", "d'accord", "dac", "grave")),
    Option("no", Text("Non", "No"), ("non", "nan", "no", "nope", "nah", "pas du tout")),
)


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    field: str
    # In English; `in_` says it in the partner's language from the same template.
    message: str
    template: str = dataclasses.field(default="", compare=False, repr=False)
    values: Mapping[str, object] = dataclasses.field(default_factory=dict, compare=False, repr=False)

    def __str__(self) -> str:
        return self.in_()

    def in_(self, catalog: Catalog | None = None, language: str = "en") -> str:
        where = "" if self.field == "(file)" else f"{self.field}: "
        return f"{self.file}:{self.line}: {where}{self.message_in(catalog, language)}"

    def message_in(self, catalog: Catalog | None = None, language: str = "en") -> str:
        """The message alone (no file, line or field), in the partner's language."""
        if catalog is None or not self.template:
            return self.message
        values = {k: catalog.gettext(language, v) if isinstance(v, Term) else v
                  for k, v in self.values.items()}
        return catalog.gettext(language, self.template).format(**values)


def problem(file: str, line: int, field: str, template: str, **values: object) -> Problem:
    return Problem(file, line, field, template.format(**values), template, values)


class SurveyError(Exception):
    """A survey file that cannot be used; `problems` lists every reason."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


class _Checker:
    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.problems: list[Problem] = []

    def report(self, line: int, field: str, template: str, **values: object) -> None:
        self.problems.append(problem(self.filename, line, field, template, **values))

    # -- generic shapes ----------------------------------------------------------------------

    def mapping(self, value: Any, line: int, field: str) -> LineDict | None:
        if isinstance(value, LineDict):
            for key, key_line in value.duplicate_keys:
                self.report(key_line, _join(field, key), N_("duplicate key"))
            return value
        self.report(line, field, N_("expected a mapping, got {got}"), got=_describe(value))
        return None

    def unknown_fields(self, node: LineDict, allowed: set[str], field: str) -> None:
        for key in node:
            if key not in allowed:
                known = ", ".join(sorted(allowed))
                self.report(node.key_lines[key], _join(field, key),
                            N_("unknown field (expected one of: {known})"), known=known)

    def text(self, node: LineDict, key: str, field: str, *, required: bool = True,
             extra: int = 0) -> Text | None:
        path = _join(field, key)
        if key not in node:
            if required:
                self.report(node.line, path, N_("missing (needs French and English text)"))
            return None
        value = node[key]
        line = node.key_lines[key]
        texts = self.mapping(value, line, path)
        if texts is None:
            return None
        self.unknown_fields(texts, set(LANGUAGES), path)
        found: dict[str, str] = {}
        for language in LANGUAGES:
            item = texts.get(language)
            if item is None or (isinstance(item, str) and not item.strip()):
                self.report(texts.key_lines.get(language, texts.line), _join(path, language),
                            N_("missing {language} translation"),
                            language=LANGUAGE_NAMES[language])
                continue
            if isinstance(item, dict | list):
                self.report(texts.key_lines[language], _join(path, language),
                            N_("expected text, got {got}"), got=_describe(item))
                continue
            # The text as written: YAML must not turn a label "3.50" into 3.5.
            found[language] = texts.raw.get(language, str(item)).strip()
            if len(found[language]) + extra > MAX_MESSAGE:
                self.report(texts.key_lines[language], _join(path, language),
                            N_("message of {count} characters is over Telegram's {limit}"),
                            count=len(found[language]) + extra, limit=MAX_MESSAGE)
        if len(found) != len(LANGUAGES):
            return None
        return Text(fr=found["fr"], en=found["en"])

    def identifier(self, node: LineDict, key: str, field: str) -> str | None:
        path = _join(field, key)
        if key not in node:
            self.report(node.line, path, N_("missing"))
            return None
        value = node[key]
        if not isinstance(value, str) or not ID_PATTERN.match(value):
            self.report(node.key_lines[key], path,
                        N_("{value} is not a valid id (lower-case letters, digits, '-' or '_', "
                           "at most 32 characters)"), value=repr(value))
            return None
        return value

    def number(self, node: LineDict, key: str, field: str) -> float | None:
        if key not in node:
            return None
        value = node[key]
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.report(node.key_lines[key], _join(field, key),
                        N_("expected a number, got {got}"), got=_describe(value))
            return None
        return float(value)

    def boolean(self, node: LineDict, key: str, field: str, default: bool) -> bool:
        if key not in node:
            return default
        value = node[key]
        if not isinstance(value, bool):
            self.report(node.key_lines[key], _join(field, key),
                        N_("expected true or false, got {got}"), got=_describe(value))
            return default
        return value


def load_survey(text: str, filename: str = "<survey>", community: Community | None = None) -> Survey:
    """Parse and validate a survey; raise SurveyError listing every problem found.

    With the deployment's community, the cities, neighbourhoods and age bands it targets must exist.
    """
    checker = _Checker(filename)
    try:
        data = parse(text)
    except YamlSyntaxError as exc:
        raise SurveyError([problem(filename, exc.line, "(file)", exc.template, **exc.values)]) from exc
    root = checker.mapping(data, 1, "(file)")
    if root is None:
        raise SurveyError(checker.problems)
    survey = _survey(checker, root, hashlib.sha256(text.encode("utf-8")).hexdigest(), community)
    if checker.problems or survey is None:
        raise SurveyError(sorted(checker.problems, key=lambda p: p.line))
    return survey


def _survey(checker: _Checker, root: LineDict, source_hash: str,
            community: Community | None) -> Survey | None:
    checker.unknown_fields(root, TOP_FIELDS, "")
    schema = root.get("schema")
    if schema != SCHEMA_VERSION:
        checker.report(root.key_lines.get("schema", root.line), "schema",
                       N_("unsupported schema {schema} (this version reads schema {supported})"),
                       schema=repr(schema), supported=SCHEMA_VERSION)
    survey_id = checker.identifier(root, "id", "")
    version = root.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        checker.report(root.key_lines.get("version", root.line), "version",
                       N_("expected a whole number from 1, got {got}"), got=_describe(version))
    title = checker.text(root, "title", "")
    intro = checker.text(root, "intro", "")
    closing = checker.text(root, "closing", "")
    audience = _audience(checker, root, community)
    schedule = _schedule(checker, root)
    questions = _questions(checker, root, survey_id or "x")
    if intro is not None and questions:
        _check_skip_promise(checker, root, intro, questions)
    if (survey_id is None or title is None or intro is None or closing is None
            or not isinstance(version, int) or questions is None):
        return None
    return Survey(survey_id, version, title, intro, closing, questions, source_hash, audience,
                  schedule)


def _audience(checker: _Checker, root: LineDict, community: Community | None) -> Audience:
    lists: dict[str, tuple[str, ...]] = {}
    for key in AUDIENCE_FIELDS:
        value = root.get(key)
        if value is None:
            lists[key] = ()
            continue
        if isinstance(value, str):
            value = LineList([value])
            value.raw_items = [root.raw.get(key)]
        if not isinstance(value, LineList) or any(isinstance(v, dict | list) for v in value):
            checker.report(root.key_lines[key], key, N_("expected a list of ids, like [a, b]"))
            lists[key] = ()
            continue
        lists[key] = tuple((raw if raw is not None else str(v)) for v, raw in
                           zip(value, value.raw_items, strict=True))
    audience = Audience(lists["cities"], lists["neighbourhoods"], lists["age_bands"],
                        lists["languages"])
    for language in audience.languages:
        if language not in LANGUAGES:
            checker.report(root.key_lines["languages"], "languages",
                           N_("{language} is not a language of YouthVoice (fr or en)"),
                           language=repr(language))
    if community is None:
        return audience
    known_cities = [c.id for c in community.cities]
    for city in audience.cities:
        if community.city(city) is None:
            checker.report(root.key_lines["cities"], "cities",
                           N_("{city} is not a city of config.yml (its cities: {known})"),
                           city=repr(city), known=", ".join(known_cities))
    places = {p.id for c in community.cities if not audience.cities or c.id in audience.cities
              for p in c.neighbourhoods}
    for place in audience.neighbourhoods:
        if place not in places:
            checker.report(root.key_lines["neighbourhoods"], "neighbourhoods",
                           N_("{place} is not a neighbourhood of {cities} in config.yml"),
                           place=repr(place),
                           cities=", ".join(audience.cities) or Term(N_("any city")))
    bands = [b.id for b in community.age_bands]
    for band in audience.age_bands:
        if band not in bands:
            checker.report(root.key_lines["age_bands"], "age_bands",
                           N_("{band} is not an age band of config.yml (its bands: {known})"),
                           band=repr(band), known=", ".join(bands))
    return audience


def _schedule(checker: _Checker, root: LineDict) -> Schedule:
    moments: dict[str, datetime | None] = {}
    for key in ("opens", "closes"):
        raw = root.raw.get(key) if key in root else None
        moments[key] = None
        if key not in root:
            continue
        try:
            moment = datetime.fromisoformat(str(raw if raw is not None else root[key]))
        except ValueError:
            moment = None
        if moment is None or moment.tzinfo is not None:
            checker.report(root.key_lines[key], key,
                           N_("expected a date, or a date and a time, like 2026-12-01 or "
                              "2026-12-01 09:00 (each city's local time)"))
            continue
        moments[key] = moment
    opens, closes = moments["opens"], moments["closes"]
    if opens is not None and closes is not None and closes <= opens:
        checker.report(root.key_lines["closes"], "closes", N_("the campaign closes before it opens"))
    reminder: timedelta | None = None
    if "reminder" in root:
        match = REMINDER.match(str(root.raw.get("reminder", root["reminder"])).strip())
        if match is None or int(match.group(1)) == 0:
            checker.report(root.key_lines["reminder"], "reminder",
                           N_("expected a delay after the invitation, like 3 days or 36 hours"))
        else:
            count = int(match.group(1))
            reminder = (timedelta(hours=count) if match.group(2).lower().startswith("h")
                        else timedelta(days=count))
    return Schedule(opens, closes, reminder)


def _check_skip_promise(checker: _Checker, root: LineDict, intro: Text,
                        questions: tuple[Question, ...]) -> None:
    """The intro must not promise what the campaign denies: 'you can skip any question' and a
    question that cannot be skipped."""
    required = [q.id for q in questions if q.required]
    if not required:
        return
    for language, promise in (("fr", _SKIP_PROMISE_FR), ("en", _SKIP_PROMISE_EN)):
        if promise.search(intro.in_(language)):
            checker.report(root.key_lines.get("intro", root.line), f"intro › {language}",
                           N_("says questions can be skipped, but {required} cannot: say which "
                              "ones must be answered, or make them optional"),
                           required=", ".join(required))



def _questions(checker: _Checker, root: LineDict, survey_id: str) -> tuple[Question, ...] | None:
    value = root.get("questions")
    line = root.key_lines.get("questions", root.line)
    if not isinstance(value, LineList) or not value:
        checker.report(line, "questions", N_("expected a non-empty list of questions"))
        return None
    questions: list[Question] = []
    seen: dict[str, int] = {}
    # Where each kept question stands in the file, for messages after duplicates were dropped.
    places: dict[str, tuple[int, int]] = {}
    broken: set[str] = set()
    for index, item in enumerate(value):
        field = f"question {index + 1}"
        node = checker.mapping(item, value.item_lines[index], field)
        if node is None:
            continue
        question = _question(checker, node, field, survey_id)
        if question is None:
            # Already reported: branches naming it must not add a second problem for one mistake.
            if isinstance(node.get("id"), str):
                broken.add(node["id"])
            continue
        if question.id in seen:
            checker.report(node.key_lines["id"], _join(field, "id"),
                           N_("duplicate question id {id} (first at line {first})"),
                           id=repr(question.id), first=seen[question.id])
            continue
        seen[question.id] = node.key_lines["id"]
        places[question.id] = (index, node.line)
        questions.append(question)
    _check_flow(checker, questions, places, broken)
    return tuple(questions)


def _question(checker: _Checker, node: LineDict, field: str, survey_id: str) -> Question | None:
    checker.unknown_fields(node, QUESTION_FIELDS, field)
    question_id = checker.identifier(node, "id", field)
    raw_type = node.get("type")
    qtype: QuestionType | None = None
    try:
        qtype = QuestionType(str(raw_type))
    except ValueError:
        known = ", ".join(t.value for t in QuestionType)
        checker.report(node.key_lines.get("type", node.line), _join(field, "type"),
                       N_("unknown type {type} (expected one of: {known})"), type=repr(raw_type),
                       known=known)
    low = checker.text(node, "low", field, required=False)
    high = checker.text(node, "high", field, required=False)
    # The scale's end labels are sent in the same message as the question.
    extra = len(low.fr if low else "") + len(high.fr if high else "") + 40
    text = checker.text(node, "text", field, extra=extra)
    required = checker.boolean(node, "required", field, False)
    why = checker.text(node, "why", field, required=False)
    if required and why is None and "why" not in node:
        checker.report(node.key_lines.get("required", node.line), _join(field, "required"),
                       N_("a required question needs `why` (French and English): the reason "
                          "shown to someone who would rather skip it"))
    integer = checker.boolean(node, "integer", field, True)
    low_bound = checker.number(node, "min", field)
    high_bound = checker.number(node, "max", field)
    if low_bound is not None and high_bound is not None and low_bound > high_bound:
        checker.report(node.key_lines["min"], _join(field, "min"),
                       N_("min {low} is above max {high}"), low=f"{low_bound:g}",
                       high=f"{high_bound:g}")
    max_length = node.get("max_length", 1000)
    if isinstance(max_length, bool) or not isinstance(max_length, int) or not 1 <= max_length <= 4000:
        checker.report(node.key_lines.get("max_length", node.line), _join(field, "max_length"),
                       N_("expected a whole number from 1 to 4000"))
        max_length = 1000
    options = _options(checker, node, field, qtype, survey_id, question_id or "x")
    condition = _condition(checker, node, field)
    goto = node.get("next")
    if goto is not None and not isinstance(goto, str):
        checker.report(node.key_lines["next"], _join(field, "next"),
                       N_("expected a question id or 'end'"))
        goto = None
    if question_id is None or qtype is None or text is None or options is None:
        return None
    return Question(
        id=question_id, type=qtype, text=text, required=required, options=options,
        min=low_bound, max=high_bound, integer=integer, low_label=low, high_label=high,
        show_if=condition, next=goto, max_length=max_length, why=why,
    )


def _options(checker: _Checker, node: LineDict, field: str, qtype: QuestionType | None,
             survey_id: str, question_id: str) -> tuple[Option, ...] | None:
    raw = node.get("options")
    path = _join(field, "options")
    controls = (callbacks.SKIP, callbacks.BACK, callbacks.DONE)
    if qtype is None:
        # The type is already reported: whether options belong here cannot be told.
        return ()
    if qtype not in (QuestionType.SINGLE, QuestionType.MULTIPLE):
        if raw is not None:
            checker.report(node.key_lines["options"], path, N_("a {type} question takes no options"),
                           type=str(qtype))
        built: tuple[Option, ...] = ()
        if qtype is QuestionType.YES_NO:
            built = YES_NO
        elif qtype is QuestionType.SCALE:
            built = tuple(Option(str(n), Text(str(n), str(n))) for n in range(1, 6))
        _check_payloads(checker, node.key_lines.get("id", node.line), _join(field, "id"), survey_id,
                        question_id, [o.id for o in built] + list(controls))
        return built
    if not isinstance(raw, LineList) or not raw:
        checker.report(node.key_lines.get("options", node.line), path,
                       N_("a choice question needs a non-empty list of options"))
        return None
    options: list[Option] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(raw):
        opt_field = _join(field, f"option {index + 1}")
        opt = checker.mapping(item, raw.item_lines[index], opt_field)
        if opt is None:
            continue
        checker.unknown_fields(opt, OPTION_FIELDS, opt_field)
        option_id = checker.identifier(opt, "id", opt_field)
        label = checker.text(opt, "label", opt_field)
        synonyms = _synonyms(checker, opt, opt_field)
        goto = opt.get("next")
        if goto is not None and not isinstance(goto, str):
            checker.report(opt.key_lines["next"], _join(opt_field, "next"),
                           N_("expected a question id or 'end'"))
            goto = None
        if option_id is None:
            continue
        if option_id in seen:
            checker.report(opt.key_lines["id"], _join(opt_field, "id"),
                           N_("duplicate option id {id} (first at line {first})"),
                           id=repr(option_id), first=seen[option_id])
            continue
        seen[option_id] = opt.key_lines["id"]
        _check_payloads(checker, opt.key_lines["id"], _join(opt_field, "id"), survey_id,
                        question_id, [option_id])
        if label is not None:
            options.append(Option(option_id, label, synonyms, goto))
    _check_payloads(checker, node.key_lines.get("id", node.line), _join(field, "id"), survey_id,
                    question_id, list(controls))
    return tuple(options)


def _synonyms(checker: _Checker, opt: LineDict, field: str) -> tuple[str, ...]:
    raw = opt.get("synonyms")
    if raw is None:
        return ()
    path = _join(field, "synonyms")
    words: list[Any] = []
    if isinstance(raw, LineDict):
        checker.unknown_fields(raw, set(LANGUAGES), path)
        for language in LANGUAGES:
            words.extend(raw.get(language) or [])
    elif isinstance(raw, LineList):
        words = list(raw)
    if not words or not all(isinstance(w, str) and w.strip() for w in words):
        checker.report(opt.key_lines["synonyms"], path,
                       N_("expected a list of words, or one list per language (fr:, en:)"))
        return ()
    return tuple(w.strip() for w in words)


def _condition(checker: _Checker, node: LineDict, field: str) -> Condition | None:
    if "show_if" not in node:
        return None
    path = _join(field, "show_if")
    cond = checker.mapping(node["show_if"], node.key_lines["show_if"], path)
    if cond is None:
        return None
    checker.unknown_fields(cond, CONDITION_FIELDS, path)
    target = cond.get("question")
    if not isinstance(target, str):
        checker.report(cond.line, _join(path, "question"), N_("missing the id of an earlier question"))
        return None
    any_of = cond.get("any_of") or []
    if isinstance(any_of, list):
        # YAML reads a bare yes/no as a boolean; for yes/no questions that is what the author meant.
        any_of = [("yes" if a else "no") if isinstance(a, bool) else a for a in any_of]
    if not isinstance(any_of, list) or not all(isinstance(a, str | int) for a in any_of):
        checker.report(cond.key_lines.get("any_of", cond.line), _join(path, "any_of"),
                       N_("expected a list of option ids"))
        any_of = []
    low = checker.number(cond, "min", path)
    high = checker.number(cond, "max", path)
    if not any_of and low is None and high is None:
        checker.report(cond.line, path, N_("give any_of (option ids) or min/max (for numbers)"))
        return None
    return Condition(target, tuple(str(a) for a in any_of), low, high)


def _check_payloads(checker: _Checker, line: int, field: str, survey_id: str, question_id: str,
                    values: list[str]) -> None:
    for value in values:
        data = callbacks.answer(survey_id, question_id, value)
        if not callbacks.fits(data):
            checker.report(line, field,
                           N_("button data {data} is {size} bytes, over Telegram's {limit}: use "
                              "shorter survey, question or option ids"),
                           data=repr(data), size=len(data.encode()), limit=callbacks.MAX_BYTES)
            return


def _check_flow(checker: _Checker, questions: list[Question],
                places: dict[str, tuple[int, int]], broken: set[str]) -> None:
    """Branches must point forward to a known question: that rules out dangling and cyclic flows."""
    position = {q.id: i for i, q in enumerate(questions)}
    lines = {question_id: line for question_id, (_, line) in places.items()}
    for i, question in enumerate(questions):
        field = f"question {places[question.id][0] + 1}"
        targets = [(question.next, _join(field, "next"))]
        targets += [(o.next, _join(field, f"option {o.id!r} › next")) for o in question.options]
        for target, path in targets:
            if target is None or target == END or target in broken:
                continue
            if target not in position:
                checker.report(lines[question.id], path,
                               N_("go-to {target} names no question of this survey"),
                               target=repr(target))
            elif position[target] <= i:
                checker.report(lines[question.id], path,
                               N_("go-to {target} points back to an earlier question or itself, "
                                  "which would loop: branches may only go forward"),
                               target=repr(target))
        cond = question.show_if
        if cond is None:
            continue
        path = _join(field, "show_if › question")
        if cond.question in broken:
            continue
        if cond.question not in position:
            checker.report(lines[question.id], path,
                           N_("show_if names {question}, which is no question of this survey"),
                           question=repr(cond.question))
            continue
        if position[cond.question] >= i:
            checker.report(lines[question.id], path,
                           N_("show_if depends on {question}, which is not asked before it"),
                           question=repr(cond.question))
            continue
        source = questions[position[cond.question]]
        if cond.any_of and source.type not in CHOICE_TYPES:
            checker.report(lines[question.id], _join(field, "show_if › any_of"),
                           N_("{question} is a {type} question: use min/max"),
                           question=repr(cond.question), type=str(source.type))
        for option_id in cond.any_of:
            if source.option(option_id) is None:
                checker.report(lines[question.id], _join(field, "show_if › any_of"),
                               N_("{question} has no option {option}"),
                               question=repr(cond.question), option=repr(option_id))


def _join(field: str, key: str) -> str:
    return f"{field} › {key}" if field else key


def _describe(value: Any) -> str:
    if value is None:
        return Term(N_("nothing"))
    if isinstance(value, dict):
        return Term(N_("a mapping"))
    if isinstance(value, list):
        return Term(N_("a list"))
    return f"{value!r}"
