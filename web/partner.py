"""The partner's pages: check a campaign file with its problems beside its lines, try it in the browser."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.datastructures import UploadFile
from starlette.responses import Response
from starlette.routing import Route

from bot.campaigns import Times, times_after_publish
from bot.engine.community import Community
from bot.engine.loader import Problem, SurveyError, load_survey
from bot.engine.survey import LANGUAGES, Survey
from web import preview
from web.i18n import N_
from web.pages import MAX_UPLOAD_BYTES, Forbidden, Page, page


@dataclass(frozen=True)
class SourceLine:
    number: int
    text: str
    problems: tuple[Problem, ...]


@dataclass(frozen=True)
class Checked:
    filename: str
    source: str
    lines: tuple[SourceLine, ...]
    # Problems about the whole file, or about a line the file does not have.
    general: tuple[Problem, ...]
    survey: Survey | None

    @property
    def problem_count(self) -> int:
        return len(self.general) + sum(len(line.problems) for line in self.lines)


def check(source: str, filename: str, community: Community) -> Checked:
    try:
        survey: Survey | None = load_survey(source, filename, community)
        problems: list[Problem] = []
    except SurveyError as exc:
        survey, problems = None, exc.problems
    texts = source.splitlines()
    by_line: dict[int, list[Problem]] = {}
    general: list[Problem] = []
    for problem in problems:
        if 1 <= problem.line <= len(texts):
            by_line.setdefault(problem.line, []).append(problem)
        else:
            general.append(problem)
    lines = tuple(SourceLine(n, text, tuple(by_line.get(n, ()))) for n, text in enumerate(texts, start=1))
    return Checked(filename, source, lines, tuple(general), survey)


def partner_cities(current: Page) -> list[str]:
    assert current.user is not None
    partner = next((p for p in current.config.partners if p.id == current.user.partner_id), None)
    if partner is None:
        raise Forbidden
    return list(partner.cities)


def _read_upload(current: Page) -> tuple[str, str] | str:
    """The campaign text and its file name, or why it cannot be read (a message id)."""
    upload = current.form.get("file") if current.form is not None else None
    pasted = current.field("source")
    if isinstance(upload, UploadFile) and upload.filename:
        data = upload.file.read(MAX_UPLOAD_BYTES + 1)
        if len(data) > MAX_UPLOAD_BYTES:
            return N_("This file is too large for a campaign (more than 512 KB).")
        try:
            return data.decode("utf-8-sig"), upload.filename
        except UnicodeDecodeError:
            return N_("This file is not UTF-8 text. Save it as UTF-8 in your editor and upload it again.")
    if pasted:
        return pasted.replace("\r\n", "\n"), "campaign.yml"
    return N_("Choose a campaign file, or paste its text.")


@page("partner")
def check_form(current: Page) -> Response:
    partner_cities(current)
    return current.render("campaign_check.html", checked=None, problem=None)


@page("partner")
def check_upload(current: Page) -> Response:
    assert current.user is not None
    cities = partner_cities(current)
    read = _read_upload(current)
    if isinstance(read, str):
        return current.render("campaign_check.html", status=400, checked=None, problem=read)
    source, filename = read
    checked = check(source, filename, current.config.community())
    outside: list[str] = []
    times: Times | None = None
    if checked.survey is not None:
        outside = [city for city in checked.survey.audience.cities if city not in cities]
        # A new version of a published campaign keeps the schedule set in the console, unless
        # the file's times changed: the form beside Publish shows the times that will apply.
        times = times_after_publish(current.db, checked.survey, current.user.partner_id or "")
    return current.render("campaign_check.html", status=200 if checked.survey else 422, checked=checked,
                          problem=None, outside=outside, languages=LANGUAGES, times=times)


@page("partner")
def try_campaign(current: Page) -> Response:
    cities = partner_cities(current)
    source = current.field("source")
    checked = check(source, "campaign.yml", current.config.community())
    if checked.survey is None:
        return current.render("campaign_check.html", status=422, checked=checked, problem=None, outside=[],
                              languages=LANGUAGES)
    survey = checked.survey
    secret = current.console.settings.secret_key
    signed = current.field("conversation")
    if signed:
        try:
            previous = preview.load(secret, signed)
        except preview.PreviewError:
            return current.render("campaign_check.html", status=400, checked=checked,
                                  problem=N_("This preview cannot be continued; start it again."),
                                  outside=[], languages=LANGUAGES)
        conversation = preview.reply(current.console.context, survey, previous, text=current.field("text"),
                                     pressed=current.field("press") or None, now=current.now)
    else:
        language = current.field("language")
        language = language if language in LANGUAGES else current.language
        city = next((c for c in survey.audience.cities if c in cities), cities[0] if cities else "")
        conversation = preview.start(current.console.context, survey, language, city, current.now)
    return current.render("campaign_preview.html", survey=survey, source=source, conversation=conversation,
                          signed=preview.dump(secret, conversation))


@page("partner")
def preview_again(current: Page) -> Response:
    """A preview lives in its form: opened by its address alone, it starts from the file check."""
    return current.redirect("/campaigns/check")


ROUTES = [
    Route("/campaigns/check", check_form, methods=["GET"]),
    Route("/campaigns/check", check_upload, methods=["POST"]),
    Route("/campaigns/preview", try_campaign, methods=["POST"]),
    Route("/campaigns/preview", preview_again, methods=["GET"]),
]
