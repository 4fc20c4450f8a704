"""Small-cell suppression: which counts a digest must not show.

A digest publishes counts that add up: a question's answers per option add up to the number who
answered, the same answers per age band and per neighbourhood add up to the same totals. Hiding a
small count is not enough when the others in its sum are shown, since subtraction brings it back.
So the figures are described as a system of equations (``total = part + part + ...``) and:

1. every count from 1 to k - 1 is hidden (primary suppression);
2. while some hidden count can still be computed from the shown ones, by any combination of the
   equations, another count of one of its equations is hidden too (complementary suppression):
   the smallest non-zero one, so that as little as possible is lost.

A hidden count is computable exactly when it takes the same value in every solution of the
equations restricted to the hidden counts, i.e. when its coordinate vanishes on that system's null
space. Zeros are shown: nobody is singled out by a group nobody is in.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np

K = TypeVar("K", bound=Hashable)

# Singular values below this are zero: the coefficients are small integers.
_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Equation(Generic[K]):
    """``total`` is the sum of ``parts`` (all of them cells of the same system)."""

    total: K
    parts: tuple[K, ...]


def suppress(values: Mapping[K, int], equations: Sequence[Equation[K]], k: int,
             invisible: Collection[K] = ()) -> frozenset[K]:
    """The cells to hide so that no shown count is below ``k`` (zeros apart) and no hidden count can
    be worked out from the shown ones through ``equations``.

    ``invisible`` cells are never displayed but can be derived (how many did *not* choose an option):
    they are protected like the others, and hiding one costs nothing, so they go first.
    """
    if k < 1:
        raise ValueError(f"minimum cell size must be at least 1, not {k}")
    for equation in equations:
        for cell in (equation.total, *equation.parts):
            if cell not in values:
                raise KeyError(f"equation names a cell with no value: {cell!r}")
    order = {cell: index for index, cell in enumerate(values)}
    hidden = {cell for cell, value in values.items() if 0 < value < k}
    touching: dict[K, list[int]] = {cell: [] for cell in values}
    for number, equation in enumerate(equations):
        for cell in {equation.total, *equation.parts}:
            touching[cell].append(number)
    free = set(invisible)
    while True:
        # The plain leak first (an equation with one hidden cell is a subtraction away from it):
        # cheap to find; only then the linear algebra, for leaks through several equations.
        single = next((equation for equation in equations
                       if sum(cell in hidden for cell in {equation.total, *equation.parts}) == 1), None)
        if single is not None:
            candidates = {cell for cell in (single.total, *single.parts) if cell not in hidden}
            hidden.add(min(candidates, key=_cost(hidden, values, equations, touching, order, free)))
            continue
        exposed = computable(hidden, equations, order)
        if not exposed:
            return frozenset(hidden)
        hidden.add(_complement(exposed[0], hidden, values, equations, touching, order, free))


def computable(hidden: set[K] | frozenset[K], equations: Sequence[Equation[K]],
               order: Mapping[K, int] | None = None) -> list[K]:
    """The hidden cells whose value the equations give away once the shown cells are known."""
    columns = sorted(hidden, key=lambda cell: order[cell]) if order is not None else list(hidden)
    index = {cell: position for position, cell in enumerate(columns)}
    rows = []
    for equation in equations:
        row = np.zeros(len(columns))
        involved = False
        if equation.total in index:
            row[index[equation.total]] += 1.0
            involved = True
        for part in equation.parts:
            if part in index:
                row[index[part]] -= 1.0
                involved = True
        if involved:
            rows.append(row)
    if not rows:
        return []
    matrix = np.array(rows)
    _, singular, right = np.linalg.svd(matrix)
    rank = int(np.sum(singular > _TOLERANCE))
    null_space = right[rank:].T
    if null_space.shape[1] == 0:
        return columns
    free = np.max(np.abs(null_space), axis=1) > 1e-7
    return [cell for cell, moves in zip(columns, free, strict=True) if not moves]


def _complement(exposed: K, hidden: set[K], values: Mapping[K, int], equations: Sequence[Equation[K]],
                touching: Mapping[K, list[int]], order: Mapping[K, int], free: set[K]) -> K:
    """The shown cell to hide next so that ``exposed`` is no longer computable."""
    near = {cell for number in touching[exposed]
            for cell in (equations[number].total, *equations[number].parts) if cell not in hidden}
    if not near:
        # Its own equations hide everything else: the leak comes through a neighbouring equation.
        near = {cell for hidden_cell in hidden for number in touching[hidden_cell]
                for cell in (equations[number].total, *equations[number].parts) if cell not in hidden}
    if not near:
        raise ValueError(f"cannot protect {exposed!r}: every cell around it is already hidden")
    return min(near, key=_cost(hidden, values, equations, touching, order, free))


def _cost(hidden: set[K], values: Mapping[K, int], equations: Sequence[Equation[K]],
          touching: Mapping[K, list[int]], order: Mapping[K, int],
          free: set[K]) -> Callable[[K], tuple[bool, bool, int, bool, int]]:
    def cost(cell: K) -> tuple[bool, bool, int, bool, int]:
        # An invisible cell costs nothing; then the smallest count, so that as little as possible
        # is lost; a zero hides nothing (it can only grow). Between equals, a cell whose other
        # equations already hide something is likely to close the loop that protects both.
        joins = any(other in hidden for number in touching[cell]
                    for other in (equations[number].total, *equations[number].parts) if other != cell)
        return values[cell] == 0, cell not in free, values[cell], not joins, order[cell]

    return cost
