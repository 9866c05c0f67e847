"""Kubernetes resource quantities: parse every notation, compute, and write back in the file's own style.

The grammar is the API server's (``k8s.io/apimachinery/pkg/api/resource``): a signed decimal number
followed by a binary suffix (Ki Mi Gi Ti Pi Ei), a decimal suffix (n u m "" k M G T P E) or a
decimal exponent (``e3``, ``E6``). ``1e9`` and ``1E9`` are exponents, ``1E`` is exa.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal, InvalidOperation

BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
DECIMAL = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal(10**3),
    "M": Decimal(10**6),
    "G": Decimal(10**9),
    "T": Decimal(10**12),
    "P": Decimal(10**15),
    "E": Decimal(10**18),
}
_RE = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+))(Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?\d+|[numkMGTPE])?$")


@dataclass(frozen=True)
class Quantity:
    value: Decimal  # in base units (bytes for memory)
    style: str  # "binary", "decimal", "exponent" or "plain"
    suffix: str  # the suffix as written ("Mi", "G", "e9", "")
    decimals: bool  # the number was written with a fraction ("1.5Gi")

    def __str__(self) -> str:
        return format_like(self.value, self)


def parse_quantity(text: str | int | float) -> Quantity:
    """Parse ``512Mi``, ``1G``, ``1.5Gi``, ``536870912``, ``1e9``; ValueError names the bad text."""
    if isinstance(text, bool):
        raise ValueError(f"not a quantity: {text!r}")
    s = str(text).strip()
    m = _RE.match(s)
    if not m:
        raise ValueError(f"not a Kubernetes quantity: {text!r}")
    num, suffix = m.group(1), m.group(2) or ""
    try:
        n = Decimal(num)
    except InvalidOperation as e:  # pragma: no cover - the regex admits only numbers
        raise ValueError(f"not a Kubernetes quantity: {text!r}") from e
    if suffix in BINARY:
        return Quantity(n * BINARY[suffix], "binary", suffix, "." in num)
    if suffix[:1] in ("e", "E") and len(suffix) > 1:
        return Quantity(n * (Decimal(10) ** int(suffix[1:])), "exponent", suffix, "." in num)
    return Quantity(n * DECIMAL[suffix], "decimal" if suffix else "plain", suffix, "." in num)


def to_bytes(text: str | int | float) -> int:
    return int(parse_quantity(text).value.to_integral_value(ROUND_CEILING))


def round_up(value: Decimal | int, step: int) -> int:
    return math.ceil(Decimal(value) / step) * step


def _trim(d: Decimal) -> str:
    s = format(d.normalize(), "f")
    return s.rstrip("0").rstrip(".") if "." in s else s


def format_like(value: Decimal | int, like: Quantity | None) -> str:
    """Write ``value`` (base units) in the notation of ``like``: same suffix family, the largest unit
    that keeps the number whole (or with one decimal when the original used fractions)."""
    v = Decimal(value)
    style = like.style if like else "binary"
    if style == "binary":
        units = sorted(BINARY.items(), key=lambda kv: -kv[1])
        for suffix, mult in units:
            q = v / mult
            if q >= 1 and (q == q.to_integral_value() or (like and like.decimals and (q * 10) % 1 == 0)):
                return _trim(q) + suffix
        return _trim(v)
    if style == "decimal":
        for suffix in ("E", "P", "T", "G", "M", "k"):
            q = v / DECIMAL[suffix]
            if q >= 1 and (q == q.to_integral_value() or (like and like.decimals and (q * 1000) % 1 == 0)):
                return _trim(q) + suffix
        return _trim(v)
    if style == "exponent":
        assert like is not None
        exp = int(like.suffix[1:])
        mark = like.suffix[0]
        q = v / (Decimal(10) ** exp)
        return _trim(q) + mark + str(exp)
    return _trim(v.to_integral_value(ROUND_CEILING))


def memory_step(like: Quantity | None, round_to: str) -> int:
    """The rounding step in base units: ``round_to`` (64Mi by default) for binary and plain values,
    its decimal twin (64M) for values written with decimal suffixes or exponents, so 1G x 1.5 stays a
    readable 1536M rather than 1543503872."""
    q = parse_quantity(round_to)
    if like is not None and like.style in ("decimal", "exponent") and q.style == "binary":
        return int(q.value / BINARY[q.suffix] * DECIMAL[{"Ki": "k", "Mi": "M", "Gi": "G"}.get(q.suffix, "M")])
    return int(q.value)
