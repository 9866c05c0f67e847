"""``remediator mcp``: the bot's deterministic core as a Model Context Protocol server.

ChatOps agents (Claude Desktop, n8n's MCP client, IDE agents) call these tools instead of raw
kubectl. A face like ``service``: it reads evidence (a snapshot folder, the cluster or the Argo CD
API, as ``diagnose`` does), runs the flow and renders with ``views``. Read-only unless started with
``allow_write``; every output is redacted and bounded; a bad argument is a tool error with one line.
Named ``mcp_server`` so that it never shadows the ``mcp`` SDK package.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ToolError

from remediator.errors import InputError, RemediatorError, truncate
from remediator.evidence.relations import dig, meta
from remediator.evidence.store import Evidence, Obj
from remediator.flow import LocalBranch, ProviderKind, pull_request_target, run
from remediator.model import ROOTNESS, Category
from remediator.policy import Policy, discover_policy, load_policy
from remediator.redact import redact, redact_data

if TYPE_CHECKING:
    from remediator.edits.plan import FixResult

MAX_OUTPUT = 100_000  # characters of one tool result or resource: an agent's context is not a log sink
_APP_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
_INCIDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")

# What each finding category means (the vocabulary resource); the names are remediator.model.Category.
MEANINGS: dict[Category, str] = {
    Category.OOM_KILLED: "a container was killed for exceeding its memory limit",
    Category.CRASH_LOOP: "a container keeps exiting and restarting (CrashLoopBackOff) for a reason not pinned down",
    Category.CONFIG_ERROR: "the application rejects its configuration (bad flag, env value or config file)",
    Category.IMAGE_PULL: "the image cannot be pulled: wrong tag or name, private registry, architecture",
    Category.MISSING_SECRET: "a pod references a Secret (or key) that does not exist",
    Category.MISSING_CONFIGMAP: "a pod references a ConfigMap (or key) that does not exist",
    Category.EXTERNAL_SECRET_SYNC: "an ExternalSecret cannot sync its Secret from the secret store",
    Category.RBAC_FORBIDDEN: "the workload's service account is denied an API call (Role/Binding wrong or missing)",
    Category.DNS_RESOLUTION: "a host name the app calls does not resolve (wrong Service name or namespace)",
    Category.CONNECTION_REFUSED: "a dependency refuses connections (wrong port, or nothing listening)",
    Category.MODEL_NOT_FOUND: "a model server does not serve the model the app asks for",
    Category.PVC_PENDING: "a PersistentVolumeClaim is not bound (storage class, size, access mode)",
    Category.UNSCHEDULABLE: "pods cannot be scheduled: requests, node selectors, affinity, taints",
    Category.PROBE_FAILURE: "liveness/readiness/startup probes fail (path, port, timing)",
    Category.SERVICE_NO_ENDPOINTS: "a Service selects no ready pods (selector or port mismatch)",
    Category.QUOTA_EXCEEDED: "a ResourceQuota or LimitRange rejects the pods",
    Category.JOB_FAILED: "a Job (or hook) ran out of retries",
    Category.NODE_NOT_READY: "the node running the pods is NotReady or under pressure",
    Category.NOT_DEPLOYED: "Git declares a resource the cluster does not have",
    Category.SYNC_FAILED: "Argo CD could not apply the manifests (sync operation failed)",
    Category.INVALID_SPEC: "a manifest is invalid for the API server (schema, immutable field)",
    Category.CONTAINER_START_ERROR: "the container runtime cannot start the container (command, mounts)",
    Category.SECURITY_CONTEXT: "pod security admission or the security context forbids the pod",
    Category.ADMISSION_WEBHOOK: "an admission webhook denies or cannot be reached for the objects",
    Category.VOLUME_ATTACH: "a volume cannot be attached or mounted",
    Category.STORAGE_FULL: "a volume is (nearly) full",
    Category.NETWORK_POLICY: "a NetworkPolicy blocks traffic the app needs",
    Category.INGRESS: "an Ingress points at a missing Service or port, or has no class/controller",
    Category.AUTOSCALING: "a HorizontalPodAutoscaler cannot scale (metrics, target, bounds)",
    Category.LOG_FILTER: "error lines in the logs that no other detector explains",
    Category.CPU_THROTTLING: "containers are CPU-throttled by their limit (slow probes, timeouts)",
    Category.UNKNOWN: "unhealthy, but no detector recognised why",
}


class ToolInputError(InputError, ToolError):
    """A tool's argument cannot be used, or the tool failed on purpose: the agent sees this one line."""


class ResourceInputError(InputError, ResourceError):
    """A resource cannot be read (e.g. a broken policy file)."""


@dataclass(frozen=True)
class Config:
    """Where the server reads evidence and what it may write (the options of ``remediator mcp``)."""

    snapshot: Path | None = None
    repo: Path | None = None
    kubeconfig: Path | None = None
    context: str | None = None
    argocd_namespace: str = "argocd"
    argocd_url: str | None = None
    probe_models: bool = True
    probe_registries: bool = False
    prometheus_url: str | None = None
    policy_file: Path | None = None
    journal: Path | None = None
    allow_write: bool = False
    provider: ProviderKind = ProviderKind.github
    github_url: str = "https://api.github.com"
    github_repo: str | None = None
    repo_url: str | None = None
    pr_dir: Path | None = None
    cache_dir: Path | None = None


def bounded(text: str, limit: int = MAX_OUTPUT) -> str:
    """Redacted, at most ``limit`` characters (a cut result says so)."""
    text = redact(text)
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n… [truncated: {len(text) - limit} more characters]\n"


def _json(data: Any) -> str:
    return bounded(json.dumps(redact_data(data), indent=2, default=str))


def _app_arg(app: str) -> str:
    app = app.strip() if isinstance(app, str) else ""
    if not _APP_NAME.match(app):
        raise ToolInputError(f"app: {truncate(repr(app), 80)} is not an application name (lowercase DNS name)")
    return app


class Core:
    """The tools' work, synchronous and independent of the transport."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg  # no snapshot and no Argo CD URL: live, as diagnose --app (kubeconfig or in-cluster)

    # --- evidence -----------------------------------------------------------------------------

    def policy(self) -> Policy:
        return load_policy(discover_policy(self.cfg.policy_file))

    def _live(self) -> Any:
        from remediator.evidence.sources.collect import Live

        cfg = self.cfg
        found = discover_policy(cfg.policy_file)
        metrics = load_policy(found).metrics if found is not None or cfg.prometheus_url else None
        if metrics is not None and cfg.prometheus_url:
            metrics = metrics.model_copy(update={"url": cfg.prometheus_url})
        return Live(
            cfg.kubeconfig,
            cfg.context,
            cfg.argocd_namespace,
            cfg.argocd_url,
            500,
            cfg.probe_models,
            cfg.probe_registries,
            metrics,
        )

    def applications(self) -> list[Obj]:
        if self.cfg.snapshot is not None:
            from remediator.evidence.sources.snapshot import load_snapshot

            return load_snapshot(self.cfg.snapshot).all("Application")
        from remediator.evidence.sources.collect import applications

        return applications(self._live())

    def app_names(self) -> list[str]:
        return sorted({str(meta(a).get("name")) for a in self.applications() if meta(a).get("name")})

    def known_app(self, app: str) -> str:
        app = _app_arg(app)
        names = self.app_names()
        if app not in names:
            listed = ", ".join(names[:50]) or "none"
            raise ToolInputError(f"unknown app {app!r}; applications: {listed}")
        return app

    def evidence(self, app: str) -> Evidence:
        cfg = self.cfg
        if cfg.snapshot is not None:
            from remediator.evidence.sources.snapshot import SnapshotSource

            ev = SnapshotSource(cfg.snapshot).load(app)
        else:
            from remediator.evidence.sources.collect import collect

            ev = collect(app, self._live())
        if cfg.repo is not None:
            from remediator.edits.index import SourceIndex

            ev.desired = SourceIndex(cfg.repo).desired(ev.app, ev.errors)
        return ev

    # --- tools --------------------------------------------------------------------------------

    def list_apps(self) -> list[dict[str, str]]:
        out = []
        for a in sorted(self.applications(), key=lambda o: str(meta(o).get("name"))):
            out.append(
                {
                    "name": str(meta(a).get("name")),
                    "namespace": str(meta(a).get("namespace") or ""),
                    "health": str(dig(a, "status", "health", "status") or "Unknown"),
                    "sync": str(dig(a, "status", "sync", "status") or "Unknown"),
                }
            )
        return out

    def diagnose_app(self, app: str) -> dict[str, Any]:
        """The JSON of ``diagnose --format json``."""
        from remediator.flow import assess
        from remediator.views import diagnosis as report

        app = self.known_app(app)
        a = assess(self.evidence(app), self.policy(), app)
        data: dict[str, Any] = json.loads(report.to_json(a.diagnosis, True))
        return data

    def scan(self) -> dict[str, Any]:
        """Every app in one pass (``remediator scan --format json``): non-Healthy apps with their
        diagnosis, Healthy ones with their at-risk findings."""
        from datetime import UTC, datetime

        from remediator.scan import ScanOptions, scan
        from remediator.views.scan import to_json

        if self.cfg.snapshot is not None:
            from remediator.evidence.sources.snapshot import load_snapshot

            ev, opts = load_snapshot(self.cfg.snapshot), ScanOptions()  # the snapshot's own moment
        else:
            from remediator.evidence.sources.cluster import load_cluster

            ev, opts = load_cluster(self._live()), ScanOptions(now=datetime.now(UTC))
        data: dict[str, Any] = json.loads(to_json(scan(ev, opts), True))
        return data

    def propose_fix(self, app: str, open_pr: bool = False) -> dict[str, Any]:
        """The fix for the root cause: finding, diff and PR body, planned without writing. With
        ``open_pr`` (only on a server started with ``allow_write``) the flow opens or updates the PR
        as ``fix --open-pr`` does, subject to the policy's gates."""
        app = self.known_app(app)
        if open_pr and not self.cfg.allow_write:
            raise ToolInputError("this server is read-only: start it with --allow-write to open pull requests")
        policy = self.policy()
        cfg = self.cfg
        if not open_pr and cfg.repo is not None:
            res = run(lambda: self.evidence(app), policy, LocalBranch(cfg.repo, dry_run=True), app)
            assert res.fix is not None
            return {"dry_run": True, "written": False} | self._fix_report(res.fix, app, res, policy)
        if cfg.repo is None and cfg.repo_url is None and cfg.snapshot is not None:
            raise ToolInputError("no repository: start the server with --repo PATH (the app's Git checkout)")
        target = pull_request_target(
            cfg.provider,
            policy,
            cfg.cache_dir,
            cfg.github_url,
            cfg.github_repo,
            cfg.pr_dir,
            cfg.repo_url or (str(cfg.repo) if cfg.repo is not None else None),
            None,
            dry_run=not open_pr,
        )
        res = run(lambda: self.evidence(app), policy, target, app)
        out = res.outcome
        assert out is not None
        data: dict[str, Any] = {
            "dry_run": out.dry_run,
            "action": out.action,
            "message": out.message,
            "would": out.would,
            "warnings": out.warnings,
            "pr": {"number": out.pr.number, "url": out.pr.url, "branch": out.pr.branch} if out.pr else None,
        }
        if out.fix is not None:
            data |= self._fix_report(out.fix, app, res, policy)
        return data

    def _fix_report(self, fix: FixResult, app: str, res: Any, policy: Policy) -> dict[str, Any]:
        from remediator.publish import body as prbody
        from remediator.views import fix as fixreport

        data: dict[str, Any] = {"fix": json.loads(fixreport.to_json(fix, None, True))}
        if fix.edits and fix.finding is not None and fix.proposal is not None:
            d = res.diagnosis
            ctx = prbody.Context(
                app=app,
                health=d.health,
                sync=d.sync,
                argocd_url=policy.pull_requests.argocd_url,
                app_namespace=str(dig(res.evidence.app, "metadata", "namespace") or "argocd"),
                runbook=policy.runbooks.get(fix.finding.category.value) or policy.pull_requests.runbook,
                why=res.assessment.why[0] if res.assessment.why else None,
                why_source=res.assessment.why[1] if res.assessment.why else "deterministic",
            )
            keys = {"app": app, "category": fix.finding.category.value, "fingerprint": fix.fingerprint}
            data["pr_title"] = prbody.title(fix, app)
            data["pr_body"] = prbody.body(fix, ctx, keys)
        return data

    def get_incident(self, incident_id: str) -> dict[str, Any]:
        from remediator.service.journal import Journal
        from remediator.views.incidents import incident_json

        if self.cfg.journal is None:
            raise ToolInputError("no journal: start the server with --journal PATH (the file serve writes)")
        iid = incident_id.strip() if isinstance(incident_id, str) else ""
        if not _INCIDENT_ID.match(iid):
            raise ToolInputError(f"id: {truncate(repr(incident_id), 80)} is not an incident id")
        journal = Journal.open_readonly(self.cfg.journal)
        try:
            inc = journal.get(iid)
        finally:
            journal.close()
        if inc is None:
            raise ToolInputError(f"no incident {iid!r} in the journal")
        return incident_json(inc, detail=True)

    # --- resources ----------------------------------------------------------------------------

    def vocabulary(self) -> dict[str, Any]:
        return {
            "categories": [
                {"category": c.value, "meaning": MEANINGS.get(c, ""), "rootness": ROOTNESS.get(c, 0)} for c in Category
            ],
            "note": "rootness: when two findings explain the same symptoms, the higher one is the cause",
        }

    def policy_yaml(self) -> str:
        import yaml

        path = discover_policy(self.cfg.policy_file)
        policy = load_policy(path)
        head = f"# policy: {path or 'packaged default'}\n"
        return head + yaml.safe_dump(policy.model_dump(mode="json"), sort_keys=False)


def _call(fn: Any, *args: Any) -> str:
    """Run one tool: our errors become one-line tool errors (redacted), results redacted JSON."""
    try:
        return _json(fn(*args))
    except ToolInputError:
        raise
    except RemediatorError as e:
        raise ToolInputError(redact(str(e))) from None


INSTRUCTIONS = (
    "remediator diagnoses Degraded Argo CD applications from evidence and proposes GitOps fixes. "
    "Start with list_apps, then diagnose_app(app) for the ranked findings (root cause first) and "
    "propose_fix(app) for the minimal manifest diff and the pull request body (a dry run). "
    "Read-only unless the server was started with --allow-write."
)


def build_server(cfg: Config) -> MCPServer[Any]:
    """The MCP server with its tools and resources over ``cfg``."""
    from remediator import __version__

    core = Core(cfg)
    server: MCPServer[Any] = MCPServer("remediator", version=__version__, instructions=INSTRUCTIONS)

    @server.tool(description="Every Argo CD Application in the evidence: name, namespace, health, sync.")
    def list_apps() -> str:
        return _call(core.list_apps)

    @server.tool(description="Diagnose one app: ranked findings, root cause first (the JSON of diagnose).")
    def diagnose_app(app: str) -> str:
        return _call(core.diagnose_app, app)

    @server.tool(
        description="The inspection of every app (remediator scan): unhealthy apps with their diagnosis, "
        "healthy ones with their at-risk findings (OOM kills, restarts, full PVCs, long-Pending pods)."
    )
    def scan() -> str:
        return _call(core.scan)

    @server.tool(
        description="The fix for an app's root cause: finding, unified diff and pull request body, as a dry "
        "run (nothing is written). open_pr=true opens the pull request only on a server started with "
        "--allow-write, and only when the policy allows the change."
    )
    def propose_fix(app: str, open_pr: bool = False) -> str:
        return _call(core.propose_fix, app, open_pr)

    @server.tool(description="One incident of the service's journal (read-only), by its id.")
    def get_incident(id: str) -> str:  # 'id': the argument's name in the tool's schema
        return _call(core.get_incident, id)

    @server.resource(
        "remediator://findings",
        name="finding-vocabulary",
        description="The finding categories, what each means and how root-like it is.",
        mime_type="application/json",
    )
    def findings() -> str:
        return _json(core.vocabulary())

    @server.resource(
        "remediator://policy",
        name="policy",
        description="The effective policy (YAML, every default filled in).",
        mime_type="application/yaml",
    )
    def policy() -> str:
        try:
            return bounded(core.policy_yaml())
        except RemediatorError as e:
            raise ResourceInputError(redact(str(e))) from None

    return server


def check_config(cfg: Config) -> None:
    """Fail fast (before the transport starts) on options that cannot work."""
    if cfg.snapshot is not None and not cfg.snapshot.is_dir():
        raise InputError(f"{cfg.snapshot}: snapshot folder does not exist")
    if cfg.repo is not None and not cfg.repo.is_dir():
        raise InputError(f"{cfg.repo}: repository folder does not exist")
    if cfg.journal is not None and not cfg.journal.is_file():
        raise InputError(f"journal {cfg.journal}: no such file (serve writes it)")
    load_policy(discover_policy(cfg.policy_file))  # a broken policy is a start-up error, not a tool error
