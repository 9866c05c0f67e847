"""Which known value a mistyped one was meant to be: edit distance (with adjacent transpositions, so
``pyhton`` is one edit from ``python``), a case-only difference counting as the nearest of all."""

from __future__ import annotations

from collections.abc import Iterable


def distance(a: str, b: str) -> int:
    """Optimal-string-alignment distance: insertions, deletions, substitutions and swaps of two
    adjacent characters each count one."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[len(b)]


def nearest(value: str, known: Iterable[str], most: int) -> tuple[list[str], int | None]:
    """The known values nearest to ``value`` within ``most`` edits (a case-only difference is nearer
    than any edit), and that distance (0 for case only); ``([], None)`` when none is that near.
    ``value`` itself is never a candidate."""
    best: list[str] = []
    best_d: int | None = None
    for k in sorted(set(known)):
        if k == value:
            continue
        d = 0 if k.lower() == value.lower() else distance(value, k)
        if d > most:
            continue
        if best_d is None or d < best_d:
            best, best_d = [k], d
        elif d == best_d:
            best.append(k)
    return best, best_d


# Separators of the segments of a Kubernetes name, where a prefix or suffix (a Kustomize namePrefix,
# a Helm release name, an environment, a generator's hash) is added.
_SEP = "-._"


def near_names(value: str, known: Iterable[str], most: int = 2) -> list[str]:
    """The known names that ``value`` was most likely meant to be: the nearest within ``most`` edits
    (see :func:`nearest`), else those that are ``value`` with one name segment added or dropped at
    the start or the end (``app-config`` / ``prod-app-config`` / ``app-config-v2``). Empty when none."""
    names = set(known) - {value}
    best, _ = nearest(value, names, most)
    if best:
        return best
    out = []
    for k in sorted(names):
        short, long = (value, k) if len(value) < len(k) else (k, value)
        if len(short) < 3:
            continue
        if long.endswith(short) and long[-len(short) - 1] in _SEP:
            rest = long[: -len(short) - 1]
        elif long.startswith(short) and long[len(short)] in _SEP:
            rest = long[len(short) + 1 :]
        else:
            continue
        if rest and not any(s in rest for s in _SEP):
            out.append(k)
    return out
