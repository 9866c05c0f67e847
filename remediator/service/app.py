"""``remediator serve``: the webhook service (FastAPI). Answers 202 at once; a dispatcher runs the
journaled incidents in the background - debounced per app, one run per app at a time, several
apps in parallel - and a restart resumes what was in flight. A run told to come back later
(``Retry-After``) is re-queued with its due time; an incident that kept killing the process is
parked. Connections must deliver a complete request within ``request_timeout`` (slow-loris)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import os
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, runtime_checkable

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from pydantic import BaseModel, ValidationError
from starlette.requests import ClientDisconnect

from remediator.errors import InputError, RemediatorError, TemporaryError
from remediator.evidence.relations import dig
from remediator.policy import Policy
from remediator.publish.base import Provider, PullRequest
from remediator.publish.body import code
from remediator.redact import redact
from remediator.service import commands as gh_commands
from remediator.service.journal import Incident, Journal
from remediator.service.payloads import (
    Alert,
    AlertmanagerWebhook,
    ArgoCDNotification,
    alert_targets,
    first_error,
)
from remediator.service.runner import Runner
from remediator.views.incidents import PAGE_CSP, incident_json, incidents_page

log = logging.getLogger("remediator.service")
M = TypeVar("M", bound=BaseModel)


@dataclass
class Settings:
    secret: str | None  # None only with allow_unauthenticated
    allow_unauthenticated: bool = False
    settle_seconds: float = 10.0
    workers: int = 4
    max_queue: int = 10_000
    max_body: int = 1024 * 1024
    poll_seconds: float = 0.05
    shutdown_grace: float = 30.0
    max_depth: int = 32  # JSON nesting levels a hook body may have
    request_timeout: float = 10.0  # seconds a connection has to deliver a complete request (head and body)
    max_connections: int = 2048  # open connections; past it, the oldest one still owing its request is closed
    report_only: bool = False  # the runner diagnoses and journals; no pull request, no push
    # the GitHub webhook's secret (X-Hub-Signature-256 of POST /v1/hooks/github); else ``secret``
    github_secret: str | None = field(
        default_factory=lambda: os.environ.get("REMEDIATOR_GITHUB_WEBHOOK_SECRET") or None
    )


class Metrics:
    """The bot's own series: ``remediator_`` prefix, counters ``_total``, durations ``_seconds``; labels
    only from small fixed sets (source, action, stage, reason), never an app, incident or PR."""

    def __init__(self) -> None:
        disable_created_metrics()  # type: ignore[no-untyped-call]  # no `<counter>_created` gauges beside each counter (noise in text format)
        self.registry = CollectorRegistry()
        r = self.registry
        self.received = Counter("remediator_incidents_received", "Notifications accepted", ["source"], registry=r)
        self.deduplicated = Counter(
            "remediator_incidents_deduplicated", "Notifications folded into a waiting incident", registry=r
        )
        self.diagnosed = Counter("remediator_incidents_diagnosed", "Incidents diagnosed", registry=r)
        self.prs = Counter("remediator_pull_requests", "Pull requests by action", ["action"], registry=r)
        self.failures = Counter("remediator_failures", "Failed runs by stage", ["stage"], registry=r)
        self.deferred = Counter("remediator_runs_deferred", "Runs re-queued at the code host's Retry-After", registry=r)
        self.rejected = Counter("remediator_requests_rejected", "Requests refused", ["reason"], registry=r)
        self.stage = Histogram("remediator_stage_seconds", "Stage durations", ["stage"], registry=r)
        self.depth = Gauge("remediator_queue_depth", "Incidents waiting", registry=r)
        self.running = Gauge("remediator_runs_in_flight", "Runs in flight", registry=r)
        self.resolved = Counter(
            "remediator_alerts_resolved", "Resolved alerts recorded on an app's incident", registry=r
        )
        self.notifications = Counter(
            "remediator_notifications", "Notifications by channel and outcome", ["channel", "outcome"], registry=r
        )


def _problem(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


WatcherFactory = Callable[[Callable[[str, str | None, str], None]], Any]


def create_app(
    settings: Settings, journal: Journal, runner: Runner, policy: Policy, watcher: WatcherFactory | None = None
) -> FastAPI:
    """``watcher``: builds an object with ``run(stop_event)`` from a callback (app, old, new health);
    run in a thread, it feeds the same journal as the hooks (``remediator watch``)."""
    if not settings.secret and not settings.allow_unauthenticated:
        raise RemediatorError(
            "no webhook secret: set REMEDIATOR_WEBHOOK_SECRET (or explicitly allow unauthenticated hooks)"
        )
    metrics = Metrics()
    if (notifier := getattr(runner, "notifier", None)) is not None:  # remediator_notifications_total
        notifier.count = lambda channel, outcome: metrics.notifications.labels(channel, outcome).inc()
    state: dict[str, Any] = {"busy": set(), "tasks": set(), "stop": False, "running": set()}

    async def run_one(inc: Incident) -> None:
        state["busy"].add(inc.app)
        state["running"].add(inc.id)
        metrics.running.inc()
        extra = {"app": inc.app, "incident": inc.id}
        stage_now = {"stage": "start"}

        def stage(name: str) -> None:
            stage_now["stage"] = name
            journal.stage(inc.id, name)

        def fail(e: Exception) -> None:
            metrics.failures.labels(stage_now["stage"]).inc()
            msg = redact(str(e) if isinstance(e, RemediatorError) else f"{type(e).__name__}: {e}")[:500]
            journal.finish(inc.id, "failed", "error", msg)
            log.error("run failed at %s: %s", stage_now["stage"], msg, extra=extra)

        try:
            res = await asyncio.to_thread(runner.run, inc.app, inc.payload, stage)
            for k, v in res.durations.items():
                metrics.stage.labels(k).observe(v)
            if "diagnose" in res.durations:
                metrics.diagnosed.inc()
            if res.outcome in ("opened", "updated"):
                metrics.prs.labels(res.outcome).inc()
            journal.finish(
                inc.id, res.state, res.outcome, res.message, res.pr_url, res.cause, res.category, res.culprit
            )
            log.info("%s: %s", res.outcome, res.message, extra=extra)
        except TemporaryError as e:
            if e.retry_after is None:
                fail(e)
            else:  # the code host said when to come back: the incident waits in the journal, no worker does
                metrics.deferred.inc()
                reason = f"deferred at {stage_now['stage']}: asked to retry after {e.retry_after:.0f}s ({e})"
                due = journal.requeue(inc.id, e.retry_after, reason)
                log.warning("%s; due %s", reason, time.strftime("%H:%M:%SZ", time.gmtime(due)), extra=extra)
        except Exception as e:  # a run that fails is journaled; the service keeps serving
            fail(e)
        finally:
            state["busy"].discard(inc.app)
            state["running"].discard(inc.id)
            metrics.running.dec()

    async def dispatcher() -> None:
        while not state["stop"]:
            free = settings.workers - len(state["busy"])
            if free > 0:
                for inc in journal.claim(set(state["busy"]), free):
                    state["busy"].add(inc.app)
                    task = asyncio.create_task(run_one(inc))
                    state["tasks"].add(task)
                    task.add_done_callback(state["tasks"].discard)
            metrics.depth.set(journal.depth())
            await asyncio.sleep(settings.poll_seconds)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        recovered, parked = journal.recover(policy.service.max_attempts)
        if recovered:
            log.info("resumed %d incident(s) that were in flight", recovered)
        if parked:
            log.error(
                "parked %d incident(s) as failed: the process died during %d runs of each",
                parked,
                policy.service.max_attempts,
            )
        if settings.report_only:
            log.info("report-only mode: incidents are diagnosed and journaled; no pull request is opened")
        disp = asyncio.create_task(dispatcher())
        stop_watch = threading.Event()
        if watcher is not None:

            def changed(app_name: str, old: str | None, new: str) -> None:
                if policy.apps.admits(app_name):
                    _, dedup = journal.submit(
                        app_name, "watch", {"app": app_name, "health": new, "previous": old}, settings.settle_seconds
                    )
                    metrics.received.labels("watch").inc()
                    if dedup:
                        metrics.deduplicated.inc()

            threading.Thread(target=watcher(changed).run, args=(stop_watch,), name="watch", daemon=True).start()
        yield
        stop_watch.set()
        state["stop"] = True  # SIGTERM: no new runs; the ones in flight finish or stay journaled
        await disp
        if state["tasks"]:
            await asyncio.wait(set(state["tasks"]), timeout=settings.shutdown_grace)
        left = journal.interrupted(set(state["running"]))  # not a crash: the next start runs them again
        if left:
            log.info("stopped with %d run(s) still in flight; requeued", left)

    app = FastAPI(title="remediator", lifespan=lifespan, docs_url=None, redoc_url=None)

    def authorized(request: Request) -> bool:
        if settings.allow_unauthenticated and not settings.secret:
            return True
        given = request.headers.get("x-remediator-token") or ""
        auth = request.headers.get("authorization") or ""
        if not given and auth.lower().startswith("bearer "):
            given = auth[7:]
        return hmac.compare_digest(given.encode(), (settings.secret or "").encode())

    async def read_json(request: Request) -> Any:
        return parse_json(await read_raw(request))

    async def read_raw(request: Request) -> bytes:
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > settings.max_body:
            raise _Reject(413, f"body: larger than {settings.max_body} bytes")
        chunks, size = [], 0
        try:
            async for chunk in request.stream():
                size += len(chunk)
                if size > settings.max_body:
                    raise _Reject(413, f"body: larger than {settings.max_body} bytes")
                chunks.append(chunk)
        except ClientDisconnect:  # the client left (or was cut off by the request timeout)
            raise _Reject(400, "body: the client disconnected before sending it all") from None
        return b"".join(chunks)

    def parse_json(raw: bytes) -> Any:
        too_deep = _Reject(400, f"body: JSON nested deeper than {settings.max_depth} levels")
        try:
            data = json.loads(raw or b"null")
        except RecursionError:
            raise too_deep from None
        except ValueError as e:
            raise _Reject(400, f"body: not valid JSON ({str(e).splitlines()[0]})") from e
        if _depth(data, settings.max_depth) > settings.max_depth:
            raise too_deep
        return data

    async def guarded(request: Request, source: str) -> Any:
        if not authorized(request):
            metrics.rejected.labels("unauthorized").inc()
            raise _Reject(401, "missing or wrong X-Remediator-Token")
        if journal.depth() >= settings.max_queue:
            metrics.rejected.labels("queue-full").inc()
            raise _Reject(503, "queue full; retry later")
        return await read_json(request)

    def accept(app_name: str, source: str, payload: dict[str, Any]) -> dict[str, Any]:
        if not policy.apps.admits(app_name):
            iid = journal.refuse(app_name, source, payload, f"app {app_name} is not allowed by the policy (apps)")
            metrics.rejected.labels("policy").inc()
            return {"incident": iid, "app": app_name, "refused": "not allowed by the policy (apps)"}
        iid, dedup = journal.submit(app_name, source, payload, settings.settle_seconds)
        metrics.received.labels(source).inc()
        if dedup:
            metrics.deduplicated.inc()
        log.info(
            "accepted from %s%s", source, " (deduplicated)" if dedup else "", extra={"app": app_name, "incident": iid}
        )
        return {"incident": iid, "app": app_name, "deduplicated": dedup}

    @app.exception_handler(_Reject)
    async def _rejected(_: Request, e: _Reject) -> JSONResponse:
        if e.status in (400, 413, 422):
            metrics.rejected.labels("invalid").inc()
        return _problem(e.status, e.message)

    @app.post("/v1/hooks/argocd", status_code=202)
    async def argocd_hook(request: Request) -> JSONResponse:
        n = _validated(ArgoCDNotification, await guarded(request, "argocd"))
        return JSONResponse(accept(n.app, "argocd", n.model_dump()), status_code=202)

    @app.post("/v1/hooks/alertmanager", status_code=202)
    async def alertmanager_hook(request: Request) -> JSONResponse:
        w = _validated(AlertmanagerWebhook, await guarded(request, "alertmanager"))
        apps = await asyncio.to_thread(runner.applications)
        owners: dict[tuple[str, str, str], str] = {}
        for a in apps:
            name = str(dig(a, "metadata", "name"))
            dest = str(dig(a, "spec", "destination", "namespace") or "")
            for r in dig(a, "status", "resources") or []:
                if isinstance(r, dict):
                    owners.setdefault((str(r.get("kind")), str(r.get("namespace") or dest), str(r.get("name"))), name)
        results = []
        resolved: dict[str, list[Alert]] = {}
        for alert in w.alerts:
            label_app = alert.labels.get("argocd_application") or alert.labels.get("app_kubernetes_io_instance")
            app_name = next((owners[t] for t in alert_targets(alert) if t in owners), None)
            if app_name is None and label_app and any(str(dig(a, "metadata", "name")) == label_app for a in apps):
                app_name = label_app
            if alert.status != "firing":  # resolved: recorded on the app's incident and said on its PR
                if app_name is not None:
                    resolved.setdefault(app_name, []).append(alert)
                continue
            if app_name is None:
                iid = journal.refuse(
                    "",
                    "alertmanager",
                    {"alert": alert.journaled()},
                    "no Argo CD application owns the alert's resources",
                )
                results.append({"incident": iid, "refused": "no Argo CD application owns the alert's resources"})
                continue
            results.append(accept(app_name, "alertmanager", {"alert": alert.journaled()}))
        for app_name, done in resolved.items():
            results.append(await _resolved(journal, runner, metrics, app_name, done))
        return JSONResponse({"results": results}, status_code=202)

    github_events = Counter(
        "remediator_github_events",
        "GitHub events on the bot's pull requests by result (command, merged, rejected, or why ignored)",
        ["result"],
        registry=metrics.registry,
    )
    replies = gh_commands.ReplyLimit()

    @app.post("/v1/hooks/github")
    async def github_hook(request: Request) -> JSONResponse:
        """GitHub ``issue_comment`` (commands) and ``pull_request`` (closed) events, signed with the
        webhook secret (``X-Hub-Signature-256``); a replayed ``X-GitHub-Delivery`` is answered, not redone."""
        raw = await read_raw(request)
        secret = settings.github_secret or settings.secret or ""
        if not gh_commands.signature_ok(secret, raw, request.headers.get("x-hub-signature-256")):
            metrics.rejected.labels("unauthorized").inc()
            return _problem(401, "missing or wrong X-Hub-Signature-256")
        event = request.headers.get("x-github-event") or ""
        if event == "ping":
            return JSONResponse({"pong": True})
        if event not in gh_commands.EVENTS:
            github_events.labels("other-event").inc()
            return JSONResponse({"ignored": "event"})
        if not isinstance(runner, PullRequestCommands):
            return _problem(501, "this runner does not take commands on pull requests")
        data = parse_json(raw)
        model: type[BaseModel] = (
            gh_commands.IssueCommentEvent if event == "issue_comment" else gh_commands.PullRequestEvent
        )
        payload = _validated(model, data)
        delivery = request.headers.get("x-github-delivery") or ""
        if delivery and not await asyncio.to_thread(journal.first_delivery, delivery):
            github_events.labels("replayed").inc()
            return JSONResponse({"replayed": delivery[:100]})

        def done(result: str, status: int = 200, **extra: Any) -> JSONResponse:
            github_events.labels(result).inc()
            if result.startswith("ignored"):
                log.info("github %s: %s %s", event, result, {k: str(v)[:100] for k, v in extra.items()})
            return JSONResponse({"result": result, **extra}, status_code=status)

        try:
            if isinstance(payload, gh_commands.PullRequestEvent):
                return await _github_closed(payload, runner, done)
            assert isinstance(payload, gh_commands.IssueCommentEvent)
            return await _github_comment(payload, runner, done)
        except RemediatorError as e:
            log.warning("github %s: %s", event, redact(str(e))[:300])
            github_events.labels("failed").inc()
            if delivery:
                await asyncio.to_thread(journal.forget_delivery, delivery)
            return _problem(502, redact(str(e))[:300])

    async def _github_closed(
        ev: gh_commands.PullRequestEvent, r: PullRequestCommands, done: Callable[..., JSONResponse]
    ) -> JSONResponse:
        if ev.action != "closed":
            return done("ignored-action")
        found = await asyncio.to_thread(r.command_pull, ev.repository.full_name, ev.repository.html_url, ev.number)
        if found is None or not found[2]:
            return done("ignored-not-owned", pr=ev.number)
        _, pr, _ = found
        app_name = pr.marker["app"]
        merged = pr.merged or ev.pull_request.merged
        why = "closed without merging on GitHub"
        m = pr.marker
        await asyncio.to_thread(
            journal.pr_closed, app_name, pr.url, merged, m.get("fingerprint", ""), m.get("cause", ""), why
        )
        return done("merged" if merged else "rejected", app=app_name, pr=pr.number)

    async def _github_comment(
        ev: gh_commands.IssueCommentEvent, r: PullRequestCommands, done: Callable[..., JSONResponse]
    ) -> JSONResponse:
        if ev.action != "created" or ev.issue.pull_request is None:
            return done("ignored-not-a-command")
        cmd = gh_commands.parse(ev.comment.body)
        if cmd is None:
            return done("ignored-not-a-command")
        sender = ev.comment.user
        if sender.type.lower() == "bot" or sender.login.lower().endswith("[bot]"):
            return done("ignored-bot", by=sender.login)
        if ev.repository.fork:
            return done("ignored-fork", by=sender.login)
        repo = ev.repository.full_name
        found = await asyncio.to_thread(r.command_pull, repo, ev.repository.html_url, ev.issue.number)
        if found is None:
            return done("ignored-not-owned", pr=ev.issue.number, by=sender.login)
        provider, pr, own = found
        bot_login = await asyncio.to_thread(provider.login, policy.pull_requests.bot_login)
        if bot_login and sender.login.lower() == bot_login.lower():
            return done("ignored-bot", by=sender.login)
        why = gh_commands.refusal(sender, pr, own, None)
        if why is None:
            perm = await asyncio.to_thread(r.command_permission, provider, sender.login)
            why = gh_commands.refusal(sender, pr, own, perm)
        if why is not None:
            return done(f"ignored-{why}", pr=pr.number, by=sender.login)
        app_name = pr.marker["app"]
        key = f"{repo.lower()}#{pr.number}"

        async def reply(text: str) -> bool:
            if not replies.allow(key):
                github_events.labels("reply-rate-limited").inc()
                return False
            return await asyncio.to_thread(r.command_reply, provider, pr, text)

        if not cmd.known:
            replied = await reply(gh_commands.help_text(cmd.name))
            return done("unknown", pr=pr.number, replied=replied)
        if cmd.name == "explain":
            if not replies.allow(key):
                return done("reply-rate-limited", pr=pr.number)
            text = await asyncio.to_thread(r.command_explain, app_name)
            replied = await asyncio.to_thread(r.command_reply, provider, pr, gh_commands.explanation(app_name, text))
            return done("explain", pr=pr.number, replied=replied)
        if cmd.name == "rediagnose":
            queued = accept(app_name, "github", {"app": app_name, "command": "rediagnose", "pr": pr.url})
            if "refused" in queued:
                return done("ignored-policy", pr=pr.number, **queued)
            replied = await reply(
                f"Re-diagnosing {code(app_name)} as asked by {code(sender.login)}: incident "
                f"{code(queued['incident'])}; this pull request is updated when the change differs."
            )
            return done("rediagnose", 202, pr=pr.number, replied=replied, **queued)
        replied = await reply(
            f"Closing as asked by {code(sender.login)}: this change is not proposed again; a different "
            "change for the same app still may be."
        )
        await asyncio.to_thread(
            r.command_close, provider, pr, app_name, f"closed by {sender.login} with /remediator close"
        )
        return done("close", pr=pr.number, replied=replied)

    @app.get("/healthz")
    async def healthz() -> PlainTextResponse:
        return PlainTextResponse("ok\n")

    @app.get("/readyz")
    async def readyz() -> PlainTextResponse:
        problem = runner.ready()
        if problem or not journal.ping():
            return PlainTextResponse(f"not ready: {problem or 'journal unavailable'}\n", status_code=503)
        return PlainTextResponse("ready\n")

    @app.get("/metrics")
    async def metrics_endpoint() -> Response:
        metrics.depth.set(journal.depth())
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    # Looking up what the service did. The JSON routes show everything the journal keeps (the
    # notification, messages, culprits: redacted when journaled, but still the cluster's inner
    # workings), so they take the same token as the hooks. The page at ``/`` is deliberately open
    # (like /healthz, for a browser behind `kubectl port-forward`, which cannot send the token): it
    # shows only app, category, state, attempts, update time and PR link, all HTML-escaped.
    @app.get("/v1/incidents")
    async def list_incidents(request: Request) -> JSONResponse:
        if not authorized(request):
            metrics.rejected.labels("unauthorized").inc()
            return _problem(401, "missing or wrong X-Remediator-Token")
        q = request.query_params
        raw_limit = q.get("limit") or "50"
        if not raw_limit.isdigit():
            return _problem(400, f"limit: {raw_limit[:40]!r} is not a whole number")
        try:
            found = await asyncio.to_thread(
                journal.recent, q.get("app") or None, q.get("state") or None, int(raw_limit)
            )
        except InputError as e:
            return _problem(400, str(e))
        return JSONResponse({"incidents": [incident_json(i) for i in found]})

    @app.get("/v1/incidents/{iid}")
    async def get_incident(iid: str, request: Request) -> JSONResponse:
        if not authorized(request):
            metrics.rejected.labels("unauthorized").inc()
            return _problem(401, "missing or wrong X-Remediator-Token")
        inc = await asyncio.to_thread(journal.get, iid)
        if inc is None:
            return _problem(404, f"no incident {iid[:40]!r}")
        return JSONResponse(incident_json(inc, detail=True))

    @app.get("/")
    async def incidents_html() -> HTMLResponse:
        found = await asyncio.to_thread(journal.recent)
        headers = {
            "Content-Security-Policy": PAGE_CSP,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-store",
        }
        return HTMLResponse(incidents_page(found), headers=headers)

    app.state.journal = journal
    app.state.metrics = metrics
    return app


@runtime_checkable
class PullRequestCommands(Protocol):
    """A runner that answers the commands on the bot's pull requests (FlowRunner)."""

    def command_pull(self, repo: str, repo_url: str, number: int) -> tuple[Provider, PullRequest, bool] | None: ...

    def command_permission(self, provider: Provider, login: str) -> str: ...

    def command_reply(self, provider: Provider, pr: PullRequest, text: str) -> bool: ...

    def command_explain(self, app: str) -> str: ...

    def command_close(self, provider: Provider, pr: PullRequest, app: str, reason: str) -> None: ...


@runtime_checkable
class ResolvedNotifier(Protocol):
    """A runner that can say on an incident's pull request that its alert resolved (FlowRunner)."""

    def alert_resolved(self, app: str, pr_url: str, text: str, key: str) -> bool: ...


async def _resolved(
    journal: Journal, runner: Runner, metrics: Metrics, app_name: str, alerts: list[Alert]
) -> dict[str, Any]:
    """An app's resolved alerts of one notification: recorded on its latest incident; when the app
    has a pull request, ONE comment says so (once per set of alerts: a resent notification is not
    said twice). A failed comment is logged, never a 5xx (Alertmanager would resend the group)."""
    found: tuple[Incident, str] | None = None
    for alert in alerts:
        found = await asyncio.to_thread(journal.resolve, app_name, alert.journaled()) or found
        metrics.resolved.inc()
    inc, pr_url = found or (None, "")
    out: dict[str, Any] = {"incident": inc.id if inc else None, "app": app_name, "resolved": len(alerts)}
    if inc is not None and pr_url and isinstance(runner, ResolvedNotifier):
        names = ", ".join(code(redact(n)) for n in sorted({a.labels.get("alertname") or "alert" for a in alerts}))
        ends = max((a.endsAt for a in alerts if a.endsAt), default=None)
        text = (
            f"Alertmanager reports {names} resolved ({len(alerts)} alert{'s' if len(alerts) > 1 else ''}"
            + (f", at {code(redact(ends))}" if ends else "")
            + f"; incident {code(inc.id)}). If the app stays Healthy the cause may have been transient: "
            "merge only if the failure is expected to return."
        )
        ids = sorted(f"{a.fingerprint or json.dumps(a.labels, sort_keys=True)}@{a.startsAt or ''}" for a in alerts)
        key = hashlib.sha256("\n".join(ids).encode()).hexdigest()[:16]
        try:
            out["commented"] = await asyncio.to_thread(runner.alert_resolved, app_name, pr_url, text, key)
        except Exception as e:  # the code host failed: the resolution stays journaled
            log.warning("could not comment on %s: %s", pr_url, redact(str(e))[:300], extra={"app": app_name})
            out["commented"] = False
    return out


def _depth(data: Any, limit: int) -> int:
    """How deeply ``data`` nests (a scalar is 0), counted without recursion; stops past ``limit``."""
    deepest, todo = 0, [(data, 0)]
    while todo:
        node, d = todo.pop()
        if isinstance(node, dict | list):
            d += 1
            deepest = max(deepest, d)
            if deepest > limit:
                break
            todo.extend((v, d) for v in (node.values() if isinstance(node, dict) else node))
    return deepest


def _validated(model: type[M], data: Any) -> M:
    """The payload as ``model``, or a 422 naming the first wrong field."""
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise _Reject(422, first_error(e.errors())) from e


class _Reject(RemediatorError):
    """A request refused with its HTTP status (answered as JSON by the exception handler)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
