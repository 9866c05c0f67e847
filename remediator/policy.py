"""The policy: what the bot may propose. Validated with pydantic; JSON Schema in policies/schema.json."""

from __future__ import annotations

import fnmatch
import os
import re
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from remediator.errors import InputError
from remediator.quantity import parse_quantity

REMEDIES = (
    "rbac-subject-namespace",
    "rbac-create",
    "memory-limit",
    "model-env",
    "external-service",
    "pvc-size",
    "image-rollback",
    "probe-timing",
    "probe-port",
    "service-selector",
    "security-context",  # Pod Security / runAsNonRoot: set the fields the admission message names
    "rollout-recreate",  # ReadWriteOnce volume deadlocking a RollingUpdate: strategy Recreate
    "node-selector",  # a nodeSelector/affinity value no node has, near one that exists
    "anti-affinity-preferred",  # required hostname anti-affinity with more replicas than nodes
    "cpu-arch",  # exec format error: the image built for the nodes' architecture, or an arch selector
    "container-command",  # executable not found, one edit away from one the image has
    "oom-rollback",  # OOMKilled right after an image change that ran within the same limit before
    "hpa-requests",  # an HPA target without requests for its resource
    "limitrange-bounds",  # a LimitRange rejects the pods: requests/limits to the bound it names
    "quota-raise",  # a ResourceQuota declared in the app's own source (off by default)
    "ephemeral-storage",  # emptyDir sizeLimit / ephemeral-storage limit evictions
    "config-ref",  # a ConfigMap/Secret reference (name or key) one edit from one that exists; a known missing key
    "rbac-rule",  # add exactly the denied verb to a Role/ClusterRole the app declares
    "network-policy",  # DNS egress / the blocked in-app peer added to a NetworkPolicy that selects the pods
    "ingress-ref",  # an Ingress class, backend Service or port that does not exist, near one that does
    "service-port",  # a Service targetPort the selected pods do not expose
    "priority-class",  # a PriorityClass that does not exist: a near one, else create (policy) or drop
    "image-tag",  # a tag that does not exist: the nearest tag the registry lists in the same variant
    "cpu-limit",  # CFS-throttled at the CPU limit: raise it by cpu.factor (or remove it, cpu.remove_limit_on_throttling)
    "volume-expand",  # a full PVC whose StorageClass allows expansion: raise its request by storage.factor
)
OFF_BY_DEFAULT = frozenset({"rbac-create", "quota-raise"})


class HostService(BaseModel):
    model_config = ConfigDict(extra="forbid")
    address: str | None = None
    hostname: str | None = None
    port: int = Field(gt=0, lt=65536)

    @model_validator(mode="after")
    def _one_target(self) -> HostService:
        if not self.address and not self.hostname:
            raise ValueError("needs address or hostname")
        return self


class Models(BaseModel):
    model_config = ConfigDict(extra="forbid")
    preferred: list[str] = []
    served: list[str] = []  # review: models the servers are known to have (a model env var outside it is flagged)


def _quantity(v: str) -> str:
    parse_quantity(v)
    return v


class Memory(BaseModel):
    model_config = ConfigDict(extra="forbid")
    factor: float = Field(default=1.5, gt=1.0, le=10.0)
    max: str = "8Gi"
    round_to: str = "64Mi"

    _q = field_validator("max", "round_to")(_quantity)


class Storage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max: str = "1Ti"
    class_minimum: dict[str, str] = {}  # storage class -> smallest size its provisioner accepts
    factor: float = Field(default=1.5, gt=1.0, le=10.0)  # volume-expand: new request = request x factor
    round_to: str = "1Gi"  # volume-expand rounds the new request up to a multiple of this

    _q = field_validator("max", "round_to")(_quantity)

    @field_validator("class_minimum")
    @classmethod
    def _mins(cls, v: dict[str, str]) -> dict[str, str]:
        for q in v.values():
            parse_quantity(q)
        return v


class Cpu(BaseModel):
    """The cpu-limit remedy: a container CFS-throttled while its usage sits at its limit."""

    model_config = ConfigDict(extra="forbid")
    factor: float = Field(default=2.0, gt=1.0, le=10.0)  # new limit = limit x factor, rounded up
    max: str = "4"  # never propose a larger limit; report instead
    round_to: str = "100m"
    throttling_threshold: float = Field(default=0.25, gt=0.0, lt=1.0)  # share of CFS periods throttled
    remove_limit_on_throttling: bool = False  # a common platform rule: no CPU limits, only requests

    _q = field_validator("max", "round_to")(_quantity)


class Probes(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_initial_delay_seconds: int = Field(default=600, gt=0)


class Scope(BaseModel):
    """Glob patterns (fnmatch); deny wins over allow."""

    model_config = ConfigDict(extra="forbid")
    allow: list[str] = ["*"]
    deny: list[str] = []

    def admits(self, value: str) -> bool:
        return any(fnmatch.fnmatch(value, p) for p in self.allow) and not any(
            fnmatch.fnmatch(value, p) for p in self.deny
        )


class PullRequests(BaseModel):
    model_config = ConfigDict(extra="forbid")
    labels: list[str] = ["remediator"]
    reviewers: list[str] = []
    assignees: list[str] = []
    draft: bool = False
    close_when_healthy: bool = False  # close the bot's open PR when the app is Healthy again without it
    runbook: str | None = None  # a link added to every PR body
    argocd_url: str | None = None  # e.g. https://argocd.example.org: PR bodies link to the app
    # The login whose pull requests are the bot's own. Unset: the token's user (GET /user), or for a
    # GitHub App installation token the App's bot login (``<app-slug>[bot]``). PRs by anyone else,
    # from a fork, or on a branch outside ``git.branch_prefix`` are never treated as the bot's.
    bot_login: str | None = None
    max_retry_wait_seconds: float = Field(default=60.0, ge=0, le=3600)  # longer Retry-After: requeue instead


class Review(BaseModel):
    model_config = ConfigDict(extra="forbid")
    memory_min: str = "32Mi"  # a memory limit below this is flagged
    external_refs: list[str] = []  # Secrets/ConfigMaps managed outside Git (names or globs)
    ignore: list[str] = []  # rule ids not to report

    _q = field_validator("memory_min")(_quantity)


class ModelAssist(BaseModel):
    """An OpenAI-compatible model (Ollama, vLLM, LM Studio, llama.cpp server, OpenAI) that may phrase
    explanations and investigate what no detector knows. Off unless base_url and model are set."""

    model_config = ConfigDict(extra="forbid")
    base_url: str | None = None  # e.g. http://localhost:11434/v1 (Ollama)
    model: str | None = None  # e.g. qwen3:4b
    api_key_env: str = "OPENAI_API_KEY"  # the key is read from this variable (Ollama ignores it)
    timeout_seconds: float = Field(default=60.0, gt=0)
    max_tokens: int = Field(default=20_000, gt=0)  # budget per investigation (prompt + completion)
    max_steps: int = Field(default=8, gt=0)  # tool calls per investigation
    max_seconds: float = Field(default=120.0, gt=0)  # wall time per investigation
    phrase: bool = True  # let the model write the narrative parts
    investigate: bool = True  # run an investigation when the detectors find nothing certain
    anonymize: bool = False  # replace object names before anything leaves the process

    @property
    def enabled(self) -> bool:
        return bool(self.base_url and self.model)


_BRANCH_PREFIX = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*/$")


class GitIdentity(BaseModel):
    """The bot's commit identity and the only branches it may push."""

    model_config = ConfigDict(extra="forbid")
    name: str = "remediator"
    email: str = "remediator@users.noreply.github.com"
    branch_prefix: str = "remediator/"  # the bot pushes only branches under this prefix
    protected_branches: list[str] = ["main", "master", "develop", "trunk", "production", "prod", "release*", "stable"]

    @field_validator("branch_prefix")
    @classmethod
    def _prefix(cls, v: str) -> str:
        if not _BRANCH_PREFIX.fullmatch(v) or ".." in v or v.endswith(".lock/"):
            raise ValueError("must be a branch-name prefix ending in '/', e.g. 'remediator/'")
        return v


class Security(BaseModel):
    """Values the security-context remedy writes when the evidence names a field but not a value."""

    model_config = ConfigDict(extra="forbid")
    run_as_user: int = Field(default=65532, gt=0, le=2**31 - 1)  # numeric, non-root (distroless "nonroot")
    run_as_group: int = Field(default=65532, gt=0, le=2**31 - 1)


class Resources(BaseModel):
    """Requests and storage limits the resource remedies may write when the evidence has no better value."""

    model_config = ConfigDict(extra="forbid")
    cpu_request: str = "100m"  # an HPA target's missing request, when no LimitRange default or metric says
    memory_request: str = "128Mi"
    usage_factor: float = Field(default=1.2, ge=1.0, le=10.0)  # request from observed usage x factor
    ephemeral_factor: float = Field(default=2.0, gt=1.0, le=10.0)  # emptyDir sizeLimit / ephemeral limit x factor
    ephemeral_max: str = "20Gi"

    _q = field_validator("cpu_request", "memory_request", "ephemeral_max")(_quantity)


class PriorityClasses(BaseModel):
    """What the priority-class remedy does when no near-named class exists."""

    model_config = ConfigDict(extra="forbid")
    missing: Literal["create", "drop", "report"] = "create"  # create it in the app's source, drop the field, or report
    value: int = Field(default=1000, ge=-1_000_000_000, le=1_000_000_000)  # never the system range (> 1e9)


class MetricLabels(BaseModel):
    """Label names of the scoping labels (kube-prometheus-stack and VictoriaMetrics defaults)."""

    model_config = ConfigDict(extra="forbid")
    namespace: str = "namespace"
    pod: str = "pod"
    container: str = "container"
    persistentvolumeclaim: str = "persistentvolumeclaim"


class BasicAuth(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str
    password_env: str  # the password is read from this variable, never from the policy


_DURATION = re.compile(r"^([0-9]+(ms|s|m|h|d|w|y))+$")


class Metrics(BaseModel):
    """A server speaking the Prometheus HTTP API (Prometheus, VictoriaMetrics, Thanos, Mimir).
    Off unless url is set. Credentials come only from environment variables named here."""

    model_config = ConfigDict(extra="forbid")
    url: str | None = None  # e.g. http://prometheus-operated.monitoring:9090, http://vmselect:8481/select/0/prometheus
    bearer_token_env: str | None = None
    basic_auth: BasicAuth | None = None
    timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    window: str = "1h"  # peak and range queries look back this far
    step: str = "1m"  # resolution of range queries
    labels: MetricLabels = MetricLabels()
    max_series: int = Field(default=50, gt=0, le=10_000)  # series kept per answer
    max_bytes: int = Field(default=1_000_000, gt=0, le=100_000_000)  # larger answers become probe errors

    @field_validator("window", "step")
    @classmethod
    def _duration(cls, v: str) -> str:
        if not _DURATION.fullmatch(v):
            raise ValueError("must be a Prometheus duration such as 30s, 5m, 1h")
        return v

    @field_validator("url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v and not v.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return v or None


class Collection(BaseModel):
    """Live collection from the Kubernetes API: requests in flight per wave, and each request's timeout."""

    model_config = ConfigDict(extra="forbid")
    concurrency: int = Field(default=16, ge=1, le=256)  # also the client's connection pool size
    timeout_seconds: float = Field(default=15.0, gt=0, le=600)


class Service(BaseModel):
    """The webhook service's run limits."""

    model_config = ConfigDict(extra="forbid")
    max_attempts: int = Field(default=3, ge=1, le=100)  # runs of one incident before it is parked as failed


_EVENTS = (
    "incident.diagnosed", "pr.opened", "pr.updated", "fix.refused", "fix.out_of_band", "app.recovered",
    "app.still_degraded", "scan.summary",
)  # fmt: skip
_ENV = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class NotificationChannel(BaseModel):
    """One channel. Secrets (bot token, webhook URL, SMTP password) are read from the environment
    variables named here, never from the policy."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")  # the metric label and log name
    type: Literal["slack", "discord", "teams", "webhook", "email"]
    token_env: str | None = None  # slack: bot token (xoxb-...) for chat.postMessage; threads per incident
    channel: str | None = None  # slack: the channel id the bot posts to (with token_env)
    url_env: str | None = None  # slack (incoming webhook, no threads), discord, teams, webhook: the URL
    api_url: str = "https://slack.com/api"  # slack Web API base
    smtp_host: str | None = None  # email
    smtp_port: int = Field(default=587, gt=0, lt=65536)
    starttls: bool = True
    username: str | None = None
    password_env: str | None = None
    sender: str | None = None  # email From
    to: list[str] = []  # email recipients
    apps: Scope = Scope()  # Argo CD application names (glob)
    namespaces: Scope = Scope()  # the incident's namespace (glob)
    min_severity: Literal["info", "warning", "critical"] = "info"
    events: list[str] = list(_EVENTS)
    timeout_seconds: float = Field(default=5.0, gt=0, le=60)

    @field_validator("token_env", "url_env", "password_env")
    @classmethod
    def _env(cls, v: str | None) -> str | None:
        if v is not None and not _ENV.fullmatch(v):
            raise ValueError("must name an environment variable, e.g. SLACK_BOT_TOKEN (never the secret itself)")
        return v

    @field_validator("events")
    @classmethod
    def _events(cls, v: list[str]) -> list[str]:
        for e in v:
            if e not in _EVENTS:
                raise ValueError(f"unknown event {e!r} (known: {', '.join(_EVENTS)})")
        return v

    @model_validator(mode="after")
    def _complete(self) -> NotificationChannel:
        if self.type == "slack" and not (self.token_env and self.channel) and not self.url_env:
            raise ValueError("slack needs token_env + channel (Web API, threads) or url_env (incoming webhook)")
        if self.type in ("discord", "teams", "webhook") and not self.url_env:
            raise ValueError(f"{self.type} needs url_env")
        if self.type == "email" and not (self.smtp_host and self.sender and self.to):
            raise ValueError("email needs smtp_host, sender and to")
        return self


class Notifications(BaseModel):
    """Chat, webhook and email notifications; none unless channels are listed."""

    model_config = ConfigDict(extra="forbid")
    channels: list[NotificationChannel] = []
    rate_limit_per_minute: int = Field(default=20, ge=1, le=10_000)  # per channel; the excess is dropped
    dedupe_seconds: float = Field(default=86_400, ge=0)  # same incident + event + content: sent once

    @field_validator("channels")
    @classmethod
    def _unique(cls, v: list[NotificationChannel]) -> list[NotificationChannel]:
        names = [c.name for c in v]
        dup = next((n for n in names if names.count(n) > 1), None)
        if dup:
            raise ValueError(f"channel name {dup!r} is used twice")
        return v


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid")
    remedies: dict[str, bool] = Field(default_factory=lambda: {r: r not in OFF_BY_DEFAULT for r in REMEDIES})
    apps: Scope = Scope()
    namespaces: Scope = Scope()
    paths: Scope = Scope()
    host_services: dict[str, HostService] = {}
    use_node_ip: bool = False  # single-node clusters: a host service may resolve to the node's InternalIP
    endpoint_slices: bool = False  # write an EndpointSlice instead of Endpoints
    models: Models = Models()
    memory: Memory = Memory()
    storage: Storage = Storage()
    cpu: Cpu = Cpu()
    probes: Probes = Probes()
    pull_requests: PullRequests = PullRequests()
    review: Review = Review()
    model: ModelAssist = ModelAssist()
    git: GitIdentity = GitIdentity()
    service: Service = Service()
    collection: Collection = Collection()
    security: Security = Security()
    resources: Resources = Resources()
    priority_classes: PriorityClasses = PriorityClasses()
    metrics: Metrics = Metrics()
    notifications: Notifications = Notifications()
    runbooks: dict[str, str] = {}  # finding category -> runbook URL for PR bodies (else pull_requests.runbook)
    kubernetes_version: str = "1.33.0"  # schema used to validate edited objects when the cluster's is unknown

    @field_validator("remedies")
    @classmethod
    def _known(cls, v: dict[str, bool]) -> dict[str, bool]:
        unknown = sorted(set(v) - set(REMEDIES))
        if unknown:
            raise ValueError(f"unknown remedy {unknown[0]!r} (known: {', '.join(REMEDIES)})")
        return {**{r: r not in OFF_BY_DEFAULT for r in REMEDIES}, **v}

    @field_validator("runbooks")
    @classmethod
    def _runbooks(cls, v: dict[str, str]) -> dict[str, str]:
        for category, url in v.items():
            if not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", category):
                raise ValueError(f"runbook key {category!r}: must be a finding category such as oom-killed")
            if not re.fullmatch(r"https?://[^\s\x00-\x1f]+", url):
                raise ValueError(f"runbook for {category}: must be an http(s) URL")
        return v

    def enabled(self, remedy: str) -> bool:
        return self.remedies.get(remedy, False)


def default_policy_path() -> Path:
    return Path(str(resources.files("remediator") / "policies" / "default.yaml"))


def user_policy_path() -> Path:
    """``$XDG_CONFIG_HOME/remediator/policy.yaml`` (``~/.config`` when unset)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "remediator" / "policy.yaml"


def discover_policy(path: Path | None = None) -> Path | None:
    """The policy file to use: ``path`` (--policy), else ``$REMEDIATOR_POLICY``, else the user's
    config file when it exists; None means the packaged default."""
    if path is not None:
        return path
    env = os.environ.get("REMEDIATOR_POLICY")
    if env:
        return Path(env)
    user = user_policy_path()
    return user if user.is_file() else None


def json_schema() -> dict[str, Any]:
    schema = Policy.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "remediator policy"
    return schema


def load_policy(path: Path | None) -> Policy:
    """Read a policy file (the packaged default when None). Errors name the file and the key."""
    p = path or default_policy_path()
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except OSError as e:
        raise InputError(f"{p}: cannot read policy: {e.strerror}") from e
    except yaml.YAMLError as e:
        raise InputError(f"{p}: malformed YAML: {getattr(e, 'problem', e)}") from e
    if not isinstance(data, dict):
        raise InputError(f"{p}: a policy is a mapping of keys")
    try:
        return Policy.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(x) for x in err["loc"]) or "(top)"
        raise InputError(f"{p}: {where}: {err['msg']}") from e
