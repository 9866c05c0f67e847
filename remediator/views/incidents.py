"""How the service's incidents are shown: a text table, JSON, and the HTML page served at ``/``.

Pure functions of the journaled incidents (already redacted when journaled). The HTML escapes every
value, links only ``http(s)`` PR URLs, carries no JavaScript and is served with ``PAGE_CSP``: its one
stylesheet is allowed by hash, nothing else may load."""

from __future__ import annotations

import base64
import hashlib
import html
import re
import time
from collections.abc import Sequence
from typing import Any, Protocol
from urllib.parse import urlsplit


class IncidentLike(Protocol):
    """What a journaled incident offers (``remediator.service.journal.Incident``)."""

    id: str
    app: str
    source: str
    payload: dict[str, Any]
    state: str
    stage: str
    received: float
    runs: int
    deduplicated: int
    outcome: str
    message: str
    pr_url: str
    crashes: int
    updated: float
    cause: str
    category: str
    culprit: str


def when(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(t)) if t else ""


def incident_json(inc: IncidentLike, detail: bool = False) -> dict[str, Any]:
    """The JSON of one incident; ``detail`` adds the journaled notification and message."""
    out: dict[str, Any] = {
        "id": inc.id,
        "app": inc.app,
        "source": inc.source,
        "state": inc.state,
        "stage": inc.stage,
        "outcome": inc.outcome,
        "category": inc.category,
        "culprit": inc.culprit,
        "attempts": inc.runs,
        "pr_url": inc.pr_url,
        "received": when(inc.received),
        "updated": when(inc.updated),
    }
    if detail:
        out |= {
            "message": inc.message,
            "cause": inc.cause,
            "deduplicated": inc.deduplicated,
            "crashes": inc.crashes,
            "payload": inc.payload,
        }
    return out


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def _cell(value: str) -> str:
    """One terminal-safe line: no escape sequences, line breaks or bidi controls from the data."""
    return _CONTROL.sub("?", value)


def incidents_text(incidents: Sequence[IncidentLike]) -> str:
    """A table like ``kubectl get``: one incident a line, newest first."""
    if not incidents:
        return "no incidents\n"
    head = ("ID", "APP", "STATE", "CATEGORY", "ATTEMPTS", "UPDATED", "PR / OUTCOME")
    rows = [head] + [
        tuple(
            _cell(v)
            for v in (
                i.id,
                i.app or "-",
                i.state,
                i.category or "-",
                str(i.runs),
                when(i.updated),
                i.pr_url or i.outcome or "-",
            )
        )
        for i in incidents
    ]
    widths = [max(len(r[c]) for r in rows) for c in range(len(head) - 1)]
    lines = ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=False)) + "  " + r[-1] for r in rows]
    return "\n".join(line.rstrip() for line in lines) + "\n"


# One colour per state: the badge's background (text is white).
BADGE_COLOURS = {
    "queued": "#6e7781",
    "running": "#0969da",
    "done": "#1a7f37",
    "failed": "#cf222e",
    "refused": "#9a6700",
}
STYLE = (
    "body{font-family:sans-serif;margin:2rem;color:#1f2328;background:#fff}"
    "table{border-collapse:collapse}th,td{text-align:left;padding:.4rem .8rem;border-bottom:1px solid #d0d7de}"
    ".badge{display:inline-block;padding:.15rem .6rem;border-radius:1rem;color:#fff;font-weight:bold}"
    ".empty{color:#57606a}" + "".join(f".state-{s}{{background:{c}}}" for s, c in BADGE_COLOURS.items())
)
_STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
PAGE_CSP = (
    f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; img-src 'none'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _pr_link(url: str) -> str:
    """A link only for an http(s) URL; anything else is shown as escaped text."""
    if not url:
        return ""
    parts = urlsplit(url)
    if parts.scheme in ("http", "https") and parts.netloc:
        return f'<a href="{_e(url)}" rel="noopener noreferrer">{_e(url)}</a>'
    return _e(url)


def incidents_page(incidents: Sequence[IncidentLike]) -> str:
    """The page at ``/``: recent incidents with app, category, state, attempts, update time and PR."""
    if incidents:
        rows = "".join(
            "<tr>"
            f'<td class="app">{_e(i.app)}</td>'
            f"<td>{_e(i.category)}</td>"
            f'<td><span class="badge state-{_e(i.state if i.state in BADGE_COLOURS else "queued")}">'
            f"{_e(i.state)}</span></td>"
            f"<td>{_e(i.runs)}</td>"
            f"<td>{_e(when(i.updated))}</td>"
            f"<td>{_pr_link(i.pr_url)}</td>"
            "</tr>"
            for i in incidents
        )
        body = (
            '<table id="incidents"><thead><tr><th>App</th><th>Category</th><th>State</th><th>Attempts</th>'
            f"<th>Updated</th><th>Pull request</th></tr></thead><tbody>{rows}</tbody></table>"
        )
    else:
        body = '<p class="empty">No incidents yet: the service has not received a notification.</p>'
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        "<title>remediator: recent incidents</title>"
        f"<style>{STYLE}</style></head><body><h1>Recent incidents</h1>{body}</body></html>"
    )
