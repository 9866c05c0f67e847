"""Webhook payloads, validated at the boundary: our Argo CD notifications template and Alertmanager v4.

Every pattern is matched against the WHOLE string (``fullmatch``): with ``re.match`` and ``$`` a
trailing newline passes (``"shop-a\n"`` would be another app). No string may hold control characters."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

DNS1123 = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")
REPO_URL = re.compile(r"(https?://\S+|ssh://\S+|git@[\w.-]+:\S+)")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _name(v: str | None) -> str | None:
    if v is not None and not DNS1123.fullmatch(v):
        raise ValueError("must be a Kubernetes name (lowercase letters, digits, '-' and '.')")
    return v


def _printable(v: Any) -> Any:
    """Strings without control characters (newlines, escapes), in any container."""
    if isinstance(v, str) and CONTROL.search(v):
        raise ValueError("must not contain control characters (newline, tab, escape...)")
    if isinstance(v, dict):
        for k, x in v.items():
            _printable(k)
            _printable(x)
    return v


class Source(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    repoURL: str | None = None
    path: str | None = None
    targetRevision: str | None = None
    chart: str | None = None

    _plain = field_validator("*")(_printable)

    @field_validator("repoURL")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v and not REPO_URL.fullmatch(v):
            raise ValueError("must be an http(s) or ssh Git URL")
        return v

    @field_validator("path")
    @classmethod
    def _path(cls, v: str | None) -> str | None:
        if v and (v.startswith("/") or ".." in v.split("/")):
            raise ValueError("must be a relative path inside the repository")
        return v


class ArgoCDNotification(BaseModel):
    """The body our ``template.remediator-app-degraded`` sends (manifests/argocd-notifications.yaml)."""

    model_config = ConfigDict(extra="ignore")
    app: str = Field(min_length=1, max_length=253)
    namespace: str = "argocd"
    project: str | None = None
    health: str | None = None
    sync: str | None = None
    source: Source | None = None
    sources: list[Source] | None = None
    revision: str | None = None
    argocdUrl: str | None = None

    _plain = field_validator("*")(_printable)
    _names = field_validator("app", "namespace")(_name)


class Alert(BaseModel):
    """One alert; its annotations and generatorURL are not kept (free text, URLs: nothing the flow uses)."""

    model_config = ConfigDict(extra="ignore")
    status: Literal["firing", "resolved"] = "firing"
    labels: dict[str, str] = {}
    startsAt: str | None = None
    endsAt: str | None = None
    fingerprint: str | None = None

    _plain = field_validator("startsAt", "endsAt", "fingerprint")(_printable)

    @field_validator("labels")
    @classmethod
    def _labels(cls, v: dict[str, str]) -> dict[str, str]:
        """Labels with control characters are dropped, not refused: one odd label of one alert must
        not make Alertmanager retry the whole group forever, and no such value is used or stored."""
        return {k: x for k, x in v.items() if not CONTROL.search(k) and not CONTROL.search(x)}

    def journaled(self) -> dict[str, Any]:
        """What the journal keeps: status, the labels used to find the app (and the alert's name),
        startsAt, endsAt (resolved alerts) and fingerprint."""
        keep = {key for key, _ in WORKLOAD_LABELS} | MAPPING_LABELS
        return {
            "status": self.status,
            "labels": {k: v for k, v in self.labels.items() if k in keep},
            "startsAt": self.startsAt,
            **({"endsAt": self.endsAt} if self.status == "resolved" else {}),
            "fingerprint": self.fingerprint,
        }


class AlertmanagerWebhook(BaseModel):
    """Alertmanager's webhook payload, version 4."""

    model_config = ConfigDict(extra="ignore")
    version: str
    status: Literal["firing", "resolved"] = "firing"
    receiver: str | None = None
    groupKey: str | None = None
    alerts: list[Alert] = Field(min_length=1)

    @field_validator("version")
    @classmethod
    def _v4(cls, v: str) -> str:
        if v != "4":
            raise ValueError("only Alertmanager webhook payload version 4 is understood")
        return v


MAPPING_LABELS = frozenset(
    {"alertname", "namespace", "exported_namespace", "argocd_application", "app_kubernetes_io_instance"}
)
WORKLOAD_LABELS = (
    ("deployment", "Deployment"),
    ("statefulset", "StatefulSet"),
    ("daemonset", "DaemonSet"),
    ("job_name", "Job"),
    ("job", "Job"),
    ("cronjob", "CronJob"),
    ("persistentvolumeclaim", "PersistentVolumeClaim"),
    ("service", "Service"),
    ("pod", "Pod"),
)


def alert_targets(a: Alert) -> list[tuple[str, str, str]]:
    """(kind, namespace, name) candidates an alert points at, most specific first; kube-state-metrics
    and cAdvisor label names. A pod name also yields its workload by stripping the ReplicaSet/pod hashes."""
    lab = a.labels
    ns = lab.get("namespace") or lab.get("exported_namespace") or ""
    out: list[tuple[str, str, str]] = []
    for key, kind in WORKLOAD_LABELS:
        v = lab.get(key)
        if not v or (key == "job" and not ns):  # "job" is also Prometheus' scrape job
            continue
        out.append((kind, ns, v))
        if kind == "Pod":
            m = re.fullmatch(r"(.*?)-[a-z0-9]{6,10}-[a-z0-9]{5}", v) or re.fullmatch(r"(.*?)-[a-z0-9]{5}", v)
            if m:
                out.append(("Deployment", ns, m.group(1)))
                out.append(("DaemonSet", ns, m.group(1)))
            m = re.fullmatch(r"(.*)-\d+", v)
            if m:
                out.append(("StatefulSet", ns, m.group(1)))
    return out


def first_error(errors: Sequence[Any]) -> str:
    if not errors:
        return "invalid payload"
    e = errors[0]
    loc = ".".join(str(x) for x in e.get("loc", ()) if x != "body") or "(body)"
    return f"{loc}: {e.get('msg', 'invalid')}"
