"""``remediator serve``: the webhook service (FastAPI). Answers 202 at once; a dispatcher runs the
journaled incidents in the background - debounced per app, one run per app at a time, several
apps in parallel - and a restart resumes what was in flight. A run told to come back later
(``Retry-After``) is re-queued with its due time; an incident that kept killing the process is
parked. Connections must deliver a complete request within ``request_timeout`` (slow-loris)."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from pydantic import BaseModel, ValidationError
from starlette.requests import ClientDisconnect

from remediator.errors import RemediatorError, TemporaryError
from remediator.evidence.relations import dig
from remediator.policy import Policy
from remediator.redact import redact
from remediator.service.journal import Incident, Journal
from remediator.service.payloads import AlertmanagerWebhook, ArgoCDNotification, alert_targets, first_error
from remediator.service.runner import Runner

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


class Metrics:
    def __init__(self) -> None:
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
            journal.finish(inc.id, res.state, res.outcome, res.message, res.pr_url, res.cause)
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
        too_deep = _Reject(400, f"body: JSON nested deeper than {settings.max_depth} levels")
        try:
            data = json.loads(b"".join(chunks) or b"null")
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
        for alert in w.alerts:
            if alert.status != "firing":
                continue
            label_app = alert.labels.get("argocd_application") or alert.labels.get("app_kubernetes_io_instance")
            app_name = next((owners[t] for t in alert_targets(alert) if t in owners), None)
            if app_name is None and label_app and any(str(dig(a, "metadata", "name")) == label_app for a in apps):
                app_name = label_app
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
        return JSONResponse({"results": results}, status_code=202)

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

    app.state.journal = journal
    app.state.metrics = metrics
    return app


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
