"""Reading survey campaign files from disk (the engine's loader only sees text)."""

from __future__ import annotations

from pathlib import Path

from bot.engine.loader import Problem, SurveyError, load_survey
from bot.engine.survey import Survey


def read_survey(path: Path) -> Survey:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SurveyError([Problem(str(path), 0, "(file)", f"cannot read: {exc.strerror}")]) from exc
    except UnicodeDecodeError as exc:
        raise SurveyError([Problem(str(path), 0, "(file)", "not UTF-8 text")]) from exc
    return load_survey(text, str(path))


def read_campaigns(paths: list[str], base: Path) -> tuple[Survey, ...]:
    """Every campaign named in the configuration; all problems of all files at once."""
    surveys: list[Survey] = []
    problems: list[Problem] = []
    for name in paths:
        try:
            surveys.append(read_survey(base / name))
        except SurveyError as exc:
            problems.extend(exc.problems)
    ids = [s.id for s in surveys]
    for survey in surveys:
        if ids.count(survey.id) > 1:
            problems.append(Problem(survey.id, 0, "id", "two campaign files share this id"))
            break
    if problems:
        raise SurveyError(problems)
    return tuple(surveys)
