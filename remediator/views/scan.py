"""Rendering a scan: plain text, Markdown, JSON (pydantic, the machine contract) and a self-contained
HTML page (inline CSS, no script, every string from the cluster escaped).

Redacted by default, like every view: summaries and evidence quote logs and events."""

from __future__ import annotations

import html
from collections.abc import Callable

from pydantic import BaseModel

from remediator.model import ObjectRef
from remediator.redact import redact, redact_data
from remediator.scan import AppScan, ScanResult, Severity
from remediator.views import diagnosis
from remediator.views.diagnosis import DiagnosisOut

FORMATS = ("text", "markdown", "json", "html")

# Background colours of the severity badges (the browser test checks these pixels).
SEVERITY_COLOURS = {"critical": "#c62828", "warning": "#ef8f00", "info": "#1565c0", "ok": "#2e7d32"}


class RiskOut(BaseModel):
    rule: str
    severity: str
    kind: str
    namespace: str
    name: str
    message: str


class AppOut(BaseModel):
    name: str
    namespace: str
    health: str
    sync: str | None
    severity: str  # critical, warning, info or ok
    diagnosis: DiagnosisOut | None = None
    risks: list[RiskOut] = []


class ScanOut(BaseModel):
    mode: str
    now: str
    severity: str
    counts: dict[str, int]
    apps: list[AppOut]
    errors: list[str]


def _sev(s: Severity | None) -> str:
    return s.value if s is not None else "ok"


def to_model(result: ScanResult) -> ScanOut:
    return ScanOut(
        mode=result.mode,
        now=result.now,
        severity=_sev(result.severity),
        counts=result.counts(),
        apps=[
            AppOut(
                name=a.name,
                namespace=a.namespace,
                health=a.health,
                sync=a.sync,
                severity=_sev(a.severity),
                diagnosis=_diagnosis_model(a),
                risks=[
                    RiskOut(rule=r.rule, severity=r.severity.value, message=r.message, **r.object.as_dict())
                    for r in a.risks
                ],
            )
            for a in result.apps
        ],
        errors=result.errors,
    )


def _diagnosis_model(a: AppScan) -> DiagnosisOut | None:
    return diagnosis.to_model(a.diagnosis) if a.diagnosis is not None else None


def to_json(result: ScanResult, redacted: bool = True) -> str:
    m = to_model(result)
    if redacted:
        m = ScanOut.model_validate(redact_data(m.model_dump()))
    return m.model_dump_json(indent=2) + "\n"


def _ref(ref: ObjectRef) -> str:
    return f"{ref.kind} {ref.namespace + '/' if ref.namespace else ''}{ref.name}"


def _lines(a: AppScan) -> list[tuple[str, str]]:
    """(severity or confidence, text) per finding of one app."""
    if a.diagnosis is not None:
        out = []
        for f in a.diagnosis.findings[:5]:
            out.append((f"{f.confidence:.0%}", f"{f.category.value}: {_ref(f.culprit)}: {f.summary}"))
        return out
    return [(r.severity.value, f"{r.rule}: {_ref(r.object)}: {r.message}") for r in a.risks]


def headline(result: ScanResult) -> str:
    c = result.counts()
    what = "Applications" if result.mode == "argocd" else "namespaces"
    return (
        f"{len(result.apps)} {what} scanned at {result.now}: {c['critical']} critical, {c['warning']} warning, "
        f"{c['info']} info, {c['ok']} ok"
    )


def to_text(result: ScanResult, redacted: bool = True) -> str:
    out = [headline(result), ""]
    for a in result.apps:
        sync = f", {a.sync}" if a.sync else ""
        out.append(f"[{_sev(a.severity).upper()}] {a.name} ({a.health}{sync})")
        for tag, text in _lines(a):
            out.append(f"  - ({tag}) {text}")
    if result.errors:
        out += ["", f"evidence errors ({len(result.errors)}):"] + [f"  {e}" for e in result.errors[:20]]
    text = "\n".join(out) + "\n"
    return redact(text) if redacted else text


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(result: ScanResult, redacted: bool = True) -> str:
    out = [
        "# remediator scan",
        "",
        headline(result),
        "",
        "| severity | app | health | sync | findings |",
        "|---|---|---|---|---|",
    ]
    for a in result.apps:
        n = len(a.diagnosis.findings) if a.diagnosis is not None else len(a.risks)
        out.append(f"| {_sev(a.severity)} | {_md(a.name)} | {a.health} | {a.sync or ''} | {n} |")
    for a in result.apps:
        if a.severity is None:
            continue
        out += ["", f"## {_md(a.name)} ({_sev(a.severity)})", ""]
        for tag, text in _lines(a):
            out.append(f"- **{tag}** {_md(text)}")
    if result.errors:
        out += ["", "## Evidence errors", ""] + [f"- {_md(e)}" for e in result.errors[:20]]
    text = "\n".join(out) + "\n"
    return redact(text) if redacted else text


CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222;background:#fff}
table{border-collapse:collapse;margin:1em 0}
th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}
.sev{display:inline-block;min-width:5.5em;padding:.2em .5em;color:#fff;font-weight:bold;text-align:center}
""" + "".join(f".sev-{k}{{background:{v}}}\n" for k, v in SEVERITY_COLOURS.items())


def to_html(result: ScanResult, redacted: bool = True) -> str:
    clean: Callable[[str], str] = redact if redacted else (lambda s: s)

    def e(s: object) -> str:
        return html.escape(clean(str(s)), quote=True)

    def badge(sev: str) -> str:
        return f'<span class="sev sev-{sev}">{sev}</span>'

    rows = []
    for i, a in enumerate(result.apps):
        sev = _sev(a.severity)
        n = len(a.diagnosis.findings) if a.diagnosis is not None else len(a.risks)
        rows.append(
            f'<tr><td>{badge(sev)}</td><td class="app"><a href="#app-{i}">{e(a.name)}</a></td>'
            f"<td>{e(a.namespace)}</td><td>{e(a.health)}</td><td>{e(a.sync or '')}</td><td>{n}</td></tr>"
        )
    sections = []
    for i, a in enumerate(result.apps):
        sev = _sev(a.severity)
        items = (
            "".join(f"<li><b>{e(tag)}</b> {e(text)}</li>" for tag, text in _lines(a)) or "<li>nothing to report</li>"
        )
        kind = "diagnosis" if a.diagnosis is not None else "at-risk findings"
        sections.append(
            f'<section id="app-{i}" class="appsec"><h2>{badge(sev)} {e(a.name)}</h2>'
            f"<p>{e(a.health)}{(', ' + e(a.sync)) if a.sync else ''} — {kind}</p><ul>{items}</ul></section>"
        )
    errors = ""
    if result.errors:
        errors = "<h2>Evidence errors</h2><ul>" + "".join(f"<li>{e(x)}</li>" for x in result.errors[:50]) + "</ul>"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
        f"<title>remediator scan</title><style>{CSS}</style></head><body>"
        f"<h1>remediator scan</h1><p>{e(headline(result))}</p>"
        "<table><thead><tr><th>severity</th><th>app</th><th>namespace</th><th>health</th><th>sync</th>"
        f"<th>findings</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
        f"{''.join(sections)}{errors}</body></html>\n"
    )


def render(result: ScanResult, fmt: str, redacted: bool = True) -> str:
    if fmt == "json":
        return to_json(result, redacted)
    if fmt == "markdown":
        return to_markdown(result, redacted)
    if fmt == "html":
        return to_html(result, redacted)
    return to_text(result, redacted)
