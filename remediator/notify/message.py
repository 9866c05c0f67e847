"""The notification event model and its rendering per channel format: pure functions, no I/O.

Every string that may come from the cluster (app, namespace, summary, reasons, steps) is redacted
with :func:`remediator.redact.redact` (the same function PR bodies use) and stripped of control
characters when the :class:`Event` is made; each renderer then makes it inert for its format:

* Slack mrkdwn: ``&``, ``<``, ``>`` escaped (no ``<!channel>``, ``<@U…>`` or ``<url|text>`` from data);
* Discord: markdown characters escaped, ``@`` followed by a zero-width space, and the payload carries
  ``allowed_mentions: {"parse": []}`` so nothing can ping;
* Teams (Adaptive Card TextBlocks are markdown): markdown characters escaped, ``@``/``<`` neutralised;
* email: plain text; the subject is one line (no header injection);
* the generic webhook: plain JSON strings, documented as untrusted text (never markup).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, get_args
from urllib.parse import quote

from remediator.model import Finding
from remediator.redact import redact

EventType = Literal[
    "incident.diagnosed",
    "pr.opened",
    "pr.updated",
    "fix.refused",
    "fix.out_of_band",
    "app.recovered",
    "app.still_degraded",
    "scan.summary",
]
EVENT_TYPES: tuple[str, ...] = get_args(EventType)
Severity = Literal["info", "warning", "critical"]
SEVERITIES: tuple[str, ...] = get_args(Severity)
SCHEMA = "remediator.notification/v1"
# The severity of each event unless its maker says otherwise (a scan summary carries its own).
DEFAULT_SEVERITY: dict[str, Severity] = {
    "incident.diagnosed": "warning",
    "pr.opened": "warning",
    "pr.updated": "warning",
    "fix.refused": "critical",  # a person must act
    "fix.out_of_band": "critical",
    "app.recovered": "info",
    "app.still_degraded": "critical",
    "scan.summary": "info",
}
_COLOR = {"info": 0x2EB67D, "warning": 0xECB22E, "critical": 0xE01E5A}
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
_MAX = 1500  # characters per text field


def clean(text: object, limit: int = _MAX) -> str:
    """Redacted, without control or bidi characters, at most ``limit`` characters."""
    s = _CONTROL.sub(" ", redact(str(text)))
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _url(u: str) -> str:
    """Only http(s) URLs without spaces, quotes or angle brackets survive as links."""
    return u if re.fullmatch(r"https?://[^\s<>\"'|`\x00-\x1f]+", u) else ""


@dataclass(frozen=True)
class Event:
    """One notification. ``incident`` keys the thread (one Slack thread per incident) and the dedupe."""

    type: EventType
    app: str
    title: str
    summary: str
    incident: str = ""
    namespace: str = ""
    severity: Severity = "info"
    fields: tuple[tuple[str, str], ...] = ()  # (label, value), e.g. ("Root cause", "oom-killed")
    steps: tuple[str, ...] = ()  # what a person should do, in order
    links: tuple[tuple[str, str], ...] = ()  # (label, http(s) URL)
    runbook: str = ""  # the policy's runbook URL for the finding's category (http(s) only)
    time: str = field(default_factory=lambda: datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))

    def all_links(self) -> tuple[tuple[str, str], ...]:
        """The links, then the runbook (rendered as a link by every chat format)."""
        return self.links + ((("Runbook", self.runbook),) if self.runbook else ())

    def content_key(self) -> str:
        """Same incident + event + content -> same key (the time is not part of it)."""
        body = json.dumps([self.type, self.app, self.incident, self.title, self.summary, self.fields, self.steps])
        return hashlib.sha256(body.encode()).hexdigest()[:16]


def make_event(
    type: EventType,
    app: str,
    title: str,
    summary: str,
    *,
    incident: str = "",
    namespace: str = "",
    severity: Severity | None = None,
    fields: dict[str, object] | None = None,
    steps: list[str] | tuple[str, ...] = (),
    links: dict[str, str] | None = None,
    runbook: str | None = None,
) -> Event:
    """An :class:`Event` with every string cleaned (redacted, control characters removed, bounded)."""
    return Event(
        type=type,
        app=clean(app, 253),
        title=clean(title, 200),
        summary=clean(summary),
        incident=clean(incident, 100),
        namespace=clean(namespace, 253),
        severity=severity or DEFAULT_SEVERITY[type],
        fields=tuple((clean(k, 60), clean(v, 500)) for k, v in (fields or {}).items()),
        steps=tuple(clean(s, 500) for s in list(steps)[:10]),
        links=tuple((clean(k, 60), u) for k, v in (links or {}).items() if (u := _url(v))),
        runbook=_url(runbook or ""),
    )


# --- escaping per format ----------------------------------------------------------------------


def slack_escape(s: str) -> str:
    """Slack mrkdwn control characters (https://api.slack.com/reference/surfaces/formatting#escaping)."""
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_MD = re.compile(r"([\\`*_~|>\[\]()#])")


def md_escape(s: str) -> str:
    """Discord / Teams markdown made literal; ``@`` cannot start a mention."""
    return _MD.sub(r"\\\1", s).replace("@", "@\u200b").replace("<", "\\<")


# --- renderers --------------------------------------------------------------------------------


def slack_payload(ev: Event) -> dict[str, Any]:
    """``chat.postMessage`` / incoming-webhook body: Block Kit ``blocks`` plus a plain ``text`` fallback."""
    e = slack_escape
    head = f"*{e(ev.title)}*\n{e(ev.summary)}"
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": head[:3000]}}]
    if ev.fields:
        blocks.append(
            {"type": "section", "fields": [{"type": "mrkdwn", "text": f"*{e(k)}*\n{e(v)}"} for k, v in ev.fields[:10]]}
        )
    if ev.steps:
        text = "\n".join(f"{i}. {e(s)}" for i, s in enumerate(ev.steps, 1))
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": ("*Next steps*\n" + text)[:3000]}})
    if ev.all_links():
        links = " · ".join(f"<{u}|{e(k)}>" for k, u in ev.all_links())
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": links}]})
    ctx = f"{e(ev.type)} · {e(ev.severity)} · app {e(ev.app)}" + (f" · ns {e(ev.namespace)}" if ev.namespace else "")
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": ctx}]})
    return {"text": e(f"[{ev.severity}] {ev.title}")[:3000], "blocks": blocks, "unfurl_links": False}


def discord_payload(ev: Event) -> dict[str, Any]:
    """Discord execute-webhook body: one embed, and no mentions parsed at all."""
    m = md_escape
    desc = m(ev.summary)
    if ev.steps:
        desc += "\n\n**Next steps**\n" + "\n".join(f"{i}\\. {m(s)}" for i, s in enumerate(ev.steps, 1))
    embed: dict[str, Any] = {
        "title": m(ev.title)[:256],
        "description": desc[:4000],
        "color": _COLOR[ev.severity],
        "fields": [{"name": m(k)[:256], "value": m(v)[:1024] or "-", "inline": True} for k, v in ev.fields[:25]],
        "footer": {"text": f"{ev.type} · {ev.severity} · app {ev.app}"[:2048]},
        "timestamp": ev.time,
    }
    if ev.links:
        embed["url"] = ev.links[0][1]
        embed["fields"].append({"name": "Links", "value": " · ".join(f"[{m(k)}]({u})" for k, u in ev.links)})
    if ev.runbook:
        embed.setdefault("url", ev.runbook)
        embed["fields"].append({"name": "Runbook", "value": f"[{m(ev.runbook)}]({ev.runbook})"[:1024]})
    return {"username": "remediator", "embeds": [embed], "allowed_mentions": {"parse": []}}


def teams_payload(ev: Event) -> dict[str, Any]:
    """Teams incoming webhook / Workflows body: a message with one Adaptive Card attachment."""
    m = md_escape
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": m(ev.title), "weight": "Bolder", "size": "Medium", "wrap": True},
        {"type": "TextBlock", "text": m(ev.summary), "wrap": True},
    ]
    if ev.fields:
        body.append({"type": "FactSet", "facts": [{"title": m(k), "value": m(v)} for k, v in ev.fields]})
    if ev.steps:
        body.append({"type": "TextBlock", "text": "Next steps", "weight": "Bolder", "wrap": True})
        body += [{"type": "TextBlock", "text": f"{i}\\. {m(s)}", "wrap": True} for i, s in enumerate(ev.steps, 1)]
    body.append(
        {"type": "TextBlock", "text": m(f"{ev.type} · {ev.severity} · app {ev.app}"), "isSubtle": True, "wrap": True}
    )
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
        "actions": [{"type": "Action.OpenUrl", "title": m(k), "url": u} for k, u in ev.all_links()],
    }
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
        ],
    }


def webhook_payload(ev: Event) -> dict[str, Any]:
    """The generic JSON webhook body, schema ``remediator.notification/v1`` (see the package docstring)."""
    return {
        "schema": SCHEMA,
        "event": ev.type,
        "severity": ev.severity,
        "app": ev.app,
        "namespace": ev.namespace,
        "incident": ev.incident,
        "title": ev.title,
        "summary": ev.summary,
        "fields": dict(ev.fields),
        "steps": list(ev.steps),
        "links": [{"label": k, "url": u} for k, u in ev.links],
        "runbook": ev.runbook or None,
        "time": ev.time,
    }


def email_message(ev: Event) -> tuple[str, str]:
    """(subject, plain-text body)."""
    # one line: str.splitlines() also splits at U+2028, U+0085..., which the email package refuses in a header
    subject = " ".join(f"[remediator] [{ev.severity}] {ev.title}".splitlines())[:200]
    lines = [ev.title, "", ev.summary, ""]
    lines += [f"{k}: {v}" for k, v in ev.fields]
    if ev.steps:
        lines += ["", "Next steps:"] + [f"  {i}. {s}" for i, s in enumerate(ev.steps, 1)]
    if ev.all_links():
        lines += [""] + [f"{k}: {u}" for k, u in ev.all_links()]
    lines += ["", f"event {ev.type} · app {ev.app}" + (f" · namespace {ev.namespace}" if ev.namespace else "")]
    return subject, "\n".join(lines) + "\n"


# --- the events of an incident ----------------------------------------------------------------


def argocd_link(argocd_url: str | None, app: str, app_namespace: str = "argocd") -> dict[str, str]:
    if not argocd_url:
        return {}
    return {"Argo CD": f"{argocd_url.rstrip('/')}/applications/{quote(app_namespace, safe='')}/{quote(app, safe='')}"}


def diagnosed(
    app: str, f: Finding, incident: str, argocd_url: str | None = None, *, runbook: str | None = None
) -> Event:
    """``incident.diagnosed``: summary, root cause, confidence, the Argo CD link, the category's runbook."""
    return make_event(
        "incident.diagnosed",
        app,
        f"{app}: {f.category.value}",
        f.summary,
        incident=incident,
        namespace=f.culprit.namespace or "",
        fields={"Root cause": f.category.value, "Culprit": f.culprit, "Confidence": f"{f.confidence:.0%}"},
        links=argocd_link(argocd_url, app),
        runbook=runbook,
    )


def pr_event(kind: Literal["pr.opened", "pr.updated"], app: str, f: Finding | None, incident: str, url: str) -> Event:
    verb = "opened" if kind == "pr.opened" else "updated"
    return make_event(
        kind,
        app,
        f"{app}: fix pull request {verb}",
        f"A pull request with the fix for {f.category.value if f else 'the incident'} was {verb}; review and merge it.",
        incident=incident,
        namespace=(f.culprit.namespace or "") if f else "",
        fields={"Root cause": f.category.value} if f else {},
        links={"Pull request": url} if url else {},
    )


def refused(
    kind: Literal["fix.refused", "fix.out_of_band"],
    app: str,
    f: Finding | None,
    incident: str,
    reason: str,
    steps: list[str],
    argocd_url: str | None = None,
    *,
    runbook: str | None = None,
) -> Event:
    """A person must act: ``reason`` says why the bot proposes nothing, ``steps`` what to do, ``runbook`` how."""
    title = f"{app}: no automatic fix" + (" (outside Git)" if kind == "fix.out_of_band" else "")
    return make_event(
        kind,
        app,
        title,
        reason,
        incident=incident,
        namespace=(f.culprit.namespace or "") if f else "",
        fields={"Root cause": f.category.value, "Culprit": f.culprit} if f else {},
        steps=steps,
        links=argocd_link(argocd_url, app),
        runbook=runbook,
    )


def after_merge(recovered: bool, app: str, incident: str, pr_url: str, detail: str = "") -> Event:
    """``app.recovered`` / ``app.still_degraded`` after the bot's PR was merged."""
    if recovered:
        return make_event(
            "app.recovered", app, f"{app} is Healthy again", detail or f"{app} is Healthy after the fix.",
            incident=incident, links={"Pull request": pr_url} if pr_url else {},
        )  # fmt: skip
    return make_event(
        "app.still_degraded", app, f"{app} is still Degraded after the fix",
        detail or "The merged fix did not bring the app back: a person should look.",
        incident=incident, links={"Pull request": pr_url} if pr_url else {},
    )  # fmt: skip


def scan_summary(
    title: str, summary: str, severity: Severity = "info", counts: dict[str, object] | None = None,
    lines: list[str] | None = None, link: str = "",
) -> Event:  # fmt: skip
    """``scan.summary``: the daily inspection's headline, counts per severity and the worst apps."""
    return make_event(
        "scan.summary", "*", title, summary, severity=severity, fields=counts or {}, steps=lines or [],
        links={"Report": link} if link else {},
    )  # fmt: skip
