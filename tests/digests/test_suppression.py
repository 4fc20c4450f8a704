"""Small-cell suppression on random tables, checked with exact arithmetic independent of the
implementation's floating-point null space."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from digests.suppression import Equation, suppress

Cell = Hashable


def rank(rows: list[list[Fraction]]) -> int:
    matrix = [row[:] for row in rows]
    found = 0
    width = len(matrix[0]) if matrix else 0
    for column in range(width):
        pivot = next((r for r in range(found, len(matrix)) if matrix[r][column] != 0), None)
        if pivot is None:
            continue
        matrix[found], matrix[pivot] = matrix[pivot], matrix[found]
        for r in range(len(matrix)):
            if r != found and matrix[r][column] != 0:
                factor = matrix[r][column] / matrix[found][column]
                matrix[r] = [a - factor * b for a, b in zip(matrix[r], matrix[found], strict=True)]
        found += 1
    return found


def recoverable(hidden: frozenset[Cell], equations: Sequence[Equation[Cell]]) -> list[Cell]:
    """Hidden cells an attacker computes from the shown ones by adding and subtracting equations."""
    columns = sorted(hidden, key=repr)
    rows = []
    for equation in equations:
        row = [Fraction(0)] * len(columns)
        for position, cell in enumerate(columns):
            row[position] += (cell == equation.total) - sum(part == cell for part in equation.parts)
        if any(row):
            rows.append(row)
    if not rows:
        return []
    base = rank(rows)
    found = []
    for position, cell in enumerate(columns):
        unit = [Fraction(int(i == position)) for i in range(len(columns))]
        if rank([*rows, unit]) == base:
            found.append(cell)
    return found


def linked_breakdowns(counts: list[list[list[int]]]) -> tuple[dict[Cell, int], list[Equation[Cell]]]:
    """One question's answers by age band (a) and by neighbourhood (b), from the people's joint counts
    ``counts[a][b][option]``: both tables share the option totals and the grand total."""
    ages, places, options = len(counts), len(counts[0]), len(counts[0][0])
    values: dict[Cell, int] = {}
    for a in range(ages):
        for o in range(options):
            values[("age", a, o)] = sum(counts[a][b][o] for b in range(places))
        values[("age", a)] = sum(values[("age", a, o)] for o in range(options))
    for b in range(places):
        for o in range(options):
            values[("place", b, o)] = sum(counts[a][b][o] for a in range(ages))
        values[("place", b)] = sum(values[("place", b, o)] for o in range(options))
    for o in range(options):
        values[("option", o)] = sum(values[("age", a, o)] for a in range(ages))
    values[("all",)] = sum(values[("option", o)] for o in range(options))
    equations: list[Equation[Cell]] = [Equation(("all",), tuple(("option", o) for o in range(options))),
                 Equation(("all",), tuple(("age", a) for a in range(ages))),
                 Equation(("all",), tuple(("place", b) for b in range(places)))]
    for a in range(ages):
        equations.append(Equation(("age", a), tuple(("age", a, o) for o in range(options))))
    for b in range(places):
        equations.append(Equation(("place", b), tuple(("place", b, o) for o in range(options))))
    for o in range(options):
        equations.append(Equation(("option", o), tuple(("age", a, o) for a in range(ages))))
        equations.append(Equation(("option", o), tuple(("place", b, o) for b in range(places))))
    return values, equations


small_counts = st.integers(0, 12) | st.integers(0, 3)
joint = st.integers(1, 4).flatmap(lambda ages: st.integers(1, 4).flatmap(lambda places: st.integers(
    1, 4).flatmap(lambda options: st.lists(st.lists(st.lists(
        small_counts, min_size=options, max_size=options), min_size=places, max_size=places),
        min_size=ages, max_size=ages))))


@settings(max_examples=300, deadline=None)
@given(counts=joint, k=st.integers(2, 10))
def test_no_shown_count_is_small_and_no_hidden_count_is_recoverable(counts: list[list[list[int]]],
                                                                   k: int) -> None:
    values, equations = linked_breakdowns(counts)
    hidden = suppress(values, equations, k)
    shown = {cell: value for cell, value in values.items() if cell not in hidden}
    assert all(value == 0 or value >= k for value in shown.values())
    assert recoverable(hidden, equations) == []


@settings(max_examples=200, deadline=None)
@given(parts=st.lists(small_counts, min_size=1, max_size=8), k=st.integers(2, 10))
def test_a_single_sum_hides_at_least_two_or_none(parts: list[int], k: int) -> None:
    values: dict[Cell, int] = {("part", i): value for i, value in enumerate(parts)}
    values[("total",)] = sum(parts)
    equations: list[Equation[Cell]] = [Equation(("total",), tuple(("part", i) for i in range(len(parts))))]
    hidden = suppress(values, equations, k)
    assert all(values[cell] == 0 or values[cell] >= k for cell in values if cell not in hidden)
    assert recoverable(hidden, equations) == []
    if all(value == 0 or value >= k for value in values.values()):
        assert hidden == frozenset()


def test_a_small_cell_and_its_cheapest_neighbour_go_together() -> None:
    values: dict[Cell, int] = {("bus",): 30, ("bike",): 2, ("walk",): 9, ("car",): 12, ("all",): 53}
    equations: list[Equation[Cell]] = [Equation(("all",), (("bus",), ("bike",), ("walk",), ("car",)))]
    assert suppress(values, equations, 5) == {("bike",), ("walk",)}


def test_nothing_small_nothing_hidden() -> None:
    values: dict[Cell, int] = {("a",): 5, ("b",): 0, ("all",): 5}
    equations: list[Equation[Cell]] = [Equation(("all",), (("a",), ("b",)))]
    assert suppress(values, equations, 5) == frozenset()


def test_an_equation_naming_an_unknown_cell_is_refused() -> None:
    equations: list[Equation[Cell]] = [Equation(("all",), (("a",),))]
    values: dict[Cell, int] = {("a",): 1}
    with pytest.raises(KeyError, match="no value"):
        suppress(values, equations, 5)
