"""YAML parsing for people who write it by hand: lines remembered, YAML 1.2 scalars, errors in words.

Every mapping key and list item keeps its line (1-based) for precise messages. Scalars follow YAML
1.2's core schema, so `Yes`, `No`, `On`, `Off` stay words (YAML 1.1 reads them as booleans); and the
text exactly as written is kept beside each value, so a label `3.50` stays "3.50", not 3.5.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from bot.engine.texts import N_


class LineDict(dict[str, Any]):
    """A mapping that knows the line (1-based) of itself and of each of its keys."""

    line: int = 0
    key_lines: dict[str, int]
    duplicate_keys: list[tuple[str, int]]
    # The text of each scalar value as written in the file (quotes removed).
    raw: dict[str, str]


class LineList(list[Any]):
    line: int = 0
    item_lines: list[int]
    # The text of each scalar item as written (None for nested mappings and lists).
    raw_items: list[str | None]


class _LineLoader(yaml.SafeLoader):
    """YAML 1.2 core schema: only true/false are booleans, only plain numbers are numbers."""



# Start from no implicit types at all, then add YAML 1.2's (add_implicit_resolver copies the dict).
_LineLoader.yaml_implicit_resolvers = {}
_LineLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
_LineLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^[-+]?[0-9]+$"), list("-+0123456789"))
_LineLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
               r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"),
    list("-+0123456789."))
_LineLoader.add_implicit_resolver(
    "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""])


def _raw(node: yaml.Node) -> str | None:
    return node.value if isinstance(node, yaml.ScalarNode) else None


def _mapping(loader: _LineLoader, node: yaml.MappingNode) -> LineDict:
    result = LineDict()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    result.duplicate_keys = []
    result.raw = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        key_text = str(key)
        line = key_node.start_mark.line + 1
        if key_text in result:
            result.duplicate_keys.append((key_text, line))
        result[key_text] = loader.construct_object(value_node, deep=True)
        result.key_lines[key_text] = line
        raw = _raw(value_node)
        if raw is not None:
            result.raw[key_text] = raw
    return result


def _sequence(loader: _LineLoader, node: yaml.SequenceNode) -> LineList:
    result = LineList(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    result.raw_items = [_raw(child) for child in node.value]
    return result


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _sequence)


class YamlSyntaxError(Exception):
    def __init__(self, line: int, template: str, **values: object) -> None:
        super().__init__(template.format(**values))
        self.line = line
        self.template = template
        self.values = values
        self.message = template.format(**values)


# What the parser's words usually mean for someone writing a campaign by hand, and what to do.
_EXPLANATIONS: tuple[tuple[str, str], ...] = (
    ("'\\t'", N_("a tab: indent with spaces (two per level), never tabs")),
    ("tab character", N_("a tab: indent with spaces (two per level), never tabs")),
    ("mapping values are not allowed here", N_(
     "a ': ' inside a value: put the whole text in double quotes, like \"Question : ...\"")),
    ("could not find expected ':'", N_(
     "this line is neither 'name: value' nor a list item '- ...': add the missing ':' or check "
     "the line before")),
    ("expected ',' or '}'", N_(
     "a text inside {{ ... }} contains a ',', ':', '?' or '{{': put the text in double quotes, or "
     "write each language on its own line (fr: ... then en: ...)")),
    ("expected ',' or ']'", N_(
     "a word inside [ ... ] contains a ',', ':' or '[', or the ']' is missing: put the word in "
     "double quotes, or close the list with ']' on the same line")),
    ("expected <block end>", N_(
     "the indentation does not line up: a line here starts in a different column from the lines "
     "at its level; indent it like its neighbours")),
    ("did not find expected key", N_(
     "the indentation does not line up: a line here starts in a different column from the lines "
     "at its level; indent it like its neighbours")),
    ("did not find expected '-'", N_(
     "the indentation does not line up: every item of a list starts with '- ' in the same column")),
)


def _explain(exc: yaml.MarkedYAMLError) -> tuple[int, str, dict[str, object]]:
    problem = exc.problem or ""
    context = exc.context or ""
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark is not None else 0
    if "quoted scalar" in context and exc.context_mark is not None:
        return exc.context_mark.line + 1, N_("a quote opened here is never closed: add the closing quote"), {}
    if "flow" in context and exc.context_mark is not None and exc.problem_mark is not None and (
            exc.problem_mark.line != exc.context_mark.line):
        bracket = "[ ... ]" if "sequence" in context else "{ ... }"
        return exc.context_mark.line + 1, N_(
            "the {bracket} that starts here is not closed on this line: close it, or put texts with "
            "',' or ':' in double quotes"), {"bracket": bracket}
    if "mapping values are not allowed here" in problem and _starts_with_key(exc.problem_mark):
        return line, N_("this line is indented more than the line above it: give it the same "
                        "indentation as the other lines at its level"), {}
    for clue, explanation in _EXPLANATIONS:
        if clue in problem:
            return line, explanation, {}
    return line, N_("this is not valid YAML ({detail}): compare it with the lines above"), {
        "detail": problem or context}


def _starts_with_key(mark: yaml.Mark | None) -> bool:
    """Whether the colon the parser stopped at ends the line's own key (so indentation is wrong)."""
    if mark is None or not isinstance(mark.buffer, str):
        return False
    lines = mark.buffer.split("\n")
    if mark.line >= len(lines):
        return False
    before = lines[mark.line][:mark.column]
    return re.fullmatch(r"\s*(- )?[A-Za-z0-9_-]+", before) is not None


def parse(text: str) -> Any:
    """Parse YAML text; mappings become LineDict and lists LineList. Raises YamlSyntaxError."""
    try:
        loader = _LineLoader(text)
        try:
            return loader.get_single_data()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        line, template, values = _explain(exc)
        raise YamlSyntaxError(line, template, **values) from exc
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(0, N_("this is not valid YAML ({detail}): compare it with the lines above"),
                              detail=str(exc)) from exc
