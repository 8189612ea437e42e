""""Did you mean …?" for formulas: nearest names by edit distance (runtime layer).

Works on characters (code points), so Chinese names are compared character
by character (``总费`` → ``总费用``); Latin names are compared ignoring case.
Distance is optimal string alignment (Levenshtein plus adjacent
transpositions: ``ROUDN`` → ``ROUND``). Only called when a name is unknown,
so simplicity beats speed here.
"""

from __future__ import annotations

from typing import Iterable

__all__ = ["distance", "nearest"]


def distance(a: str, b: str) -> int:
    """Optimal string alignment distance between ``a`` and ``b``."""
    if a == b:
        return 0
    if not a or not b:
        return len(a) or len(b)
    before: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            best = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                best = min(best, before[j - 2] + 1)
            current[j] = best
        before, previous = previous, current
    return previous[-1]


def nearest(word: str, candidates: Iterable[str], *, limit: int = 3) -> tuple[str, ...]:
    """Up to ``limit`` candidates close to ``word``, nearest first.

    A candidate is close when its distance (ignoring case) is at most half
    the longer name's length, or when one name contains the other (``费用`` →
    ``总费用``, ``CONCATENATE`` → ``CONCAT``). Ties: exact case first, then
    the shorter length difference, then alphabetical; of names differing
    only in case (a code and its label) the first one only.
    """
    if not word:
        return ()
    folded = word.casefold()
    scored: list[tuple[int, int, int, str]] = []
    seen: set[str] = set()
    for candidate in candidates:
        if not candidate or candidate in seen or candidate == word:
            continue
        seen.add(candidate)
        other = candidate.casefold()
        d = distance(folded, other)
        longer = max(len(folded), len(other))
        contains = min(len(folded), len(other)) >= 2 and (folded in other or other in folded)
        if d <= max(1, longer // 2) or contains:
            scored.append((d, int(distance(word, candidate) != d),
                           abs(len(candidate) - len(word)), candidate))
    scored.sort()
    chosen: list[str] = []
    for *_score, candidate in scored:  # one of names differing only in case
        if all(candidate.casefold() != c.casefold() for c in chosen):
            chosen.append(candidate)
            if len(chosen) == limit:
                break
    return tuple(chosen)
