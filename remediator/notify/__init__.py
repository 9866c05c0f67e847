"""Notifications to the channels operators live in: Slack, Discord, Microsoft Teams, a generic JSON
webhook and email.

Choice: small native clients over httpx (and ``smtplib``), not Apprise. Apprise covers ~100
services through one URL syntax, but (1) Slack threads (one thread per incident, later updates as
replies) need the Web API's ``chat.postMessage`` with ``thread_ts`` and the ``ts`` it answers,
which a generic "send a message" library does not return; (2) each service's rich format
(Block Kit, Discord embeds with ``allowed_mentions``, Teams Adaptive Cards) and its escaping of
hostile cluster strings must be ours to test; (3) four POSTs and an SMTP session are ~100 lines,
while Apprise is a large dependency tree for one image. Feishu, WeCom, n8n and other bridges use
the generic webhook.

Modules: ``message`` (the pure event model and rendering per format), ``http`` and ``smtp`` (the
channel adapters), ``dispatch`` (filters, dedupe, rate limit, background delivery).

Generic webhook payload, schema ``remediator.notification/v1`` (``POST``, ``application/json``;
new optional keys may be added within v1, a breaking change bumps the version)::

    {
      "schema": "remediator.notification/v1",
      "event": "incident.diagnosed | pr.opened | pr.updated | fix.refused | fix.out_of_band |
                app.recovered | app.still_degraded | scan.summary",
      "severity": "info | warning | critical",
      "app": "shop",                # "*" for scan.summary
      "namespace": "shop",          # "" when unknown
      "incident": "3f2a9c1b7d4e",   # the same for every event of one incident ("" for scans)
      "title": "shop: oom-killed",
      "summary": "…",
      "fields": {"Root cause": "oom-killed", "Confidence": "95%"},   # label -> text
      "steps": ["…"],               # next steps a person should take, in order
      "links": [{"label": "Pull request", "url": "https://…"}],
      "time": "2026-01-01T00:00:00Z"
    }

Every string is redacted (``remediator.redact``) and is untrusted plain text: never markup.
"""

from __future__ import annotations

from remediator.notify.dispatch import Notifier
from remediator.notify.message import Event, make_event, scan_summary
from remediator.policy import Policy

__all__ = ["Event", "Notifier", "make_event", "scan_summary", "send"]


def send(policy: Policy, *events: Event, timeout: float = 30.0) -> Notifier:
    """Deliver ``events`` on the policy's channels and wait (at most ``timeout`` s) for them: for
    one-shot commands such as ``remediator scan --notify``. Never raises for a channel's failure."""
    n = Notifier(policy.notifications)
    for ev in events:
        n.notify(ev)
    n.flush(timeout)
    return n
