"""A watch-based cache of Kubernetes objects for the service (informer style), so an alert needs only
the app's own lists and logs.

One thread per watched kind (and namespace): list, then watch from the list's ``resourceVersion``;
ADDED / MODIFIED / DELETED update the cache, BOOKMARK moves the version on, ``410 Gone`` (an
expired version) lists again, other errors back off exponentially (``max_backoff``). By default
Nodes and the cluster-scoped kinds the collector reads; optionally the namespaced kinds of the
namespaces the service serves.

``cached(kind)`` is the ``ClusterCache`` protocol of :class:`~remediator.evidence.sources.live.LiveSource`:
the kind's objects once its first list arrived, ``None`` before (or for a kind not watched), so the
collector falls back to asking the API server. The Kubernetes client is used only through
``live.py``.
"""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Iterable

from remediator.errors import RemediatorError
from remediator.evidence.sources.live import LiveSource, WatchExpired, list_with_version, watch
from remediator.evidence.store import Obj

log = logging.getLogger("remediator.evidence.informer")

CLUSTER_KINDS = ("Node", "PersistentVolume", "StorageClass", "PriorityClass", "ClusterRole", "ClusterRoleBinding")
NAMESPACED_KINDS = (
    "Pod",
    "Service",
    "Endpoints",
    "ConfigMap",
    "PersistentVolumeClaim",
    "Deployment",
    "ReplicaSet",
    "StatefulSet",
    "DaemonSet",
    "Job",
    "Event",
)


def _key(obj: Obj) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


class _Reflector:
    """One kind in one namespace (or cluster-wide): its objects, kept current by list + watch."""

    def __init__(self, owner: Informer, kind: str, namespace: str | None) -> None:
        self.owner = owner
        self.kind = kind
        self.namespace = namespace
        self.objects: dict[tuple[str, str], Obj] | None = None  # None until the first list
        self.resource_version: str | None = None
        self.relists = 0
        self.errors = 0

    def _relist(self) -> None:
        items, rv = list_with_version(self.owner.source, self.kind, self.namespace)
        objects = {_key(o): o for o in items}
        with self.owner.lock:
            self.objects = objects
            self.resource_version = rv
            self.relists += 1

    def _apply(self, kind: str, obj: Obj) -> None:
        rv = (obj.get("metadata") or {}).get("resourceVersion")
        with self.owner.lock:
            if rv:
                self.resource_version = str(rv)
            if self.objects is None or kind == "BOOKMARK":
                return
            obj.setdefault("kind", self.kind)
            if kind in ("ADDED", "MODIFIED"):
                self.objects[_key(obj)] = obj
            elif kind == "DELETED":
                self.objects.pop(_key(obj), None)

    def run(self, stop: threading.Event) -> None:
        backoff = 1.0
        need_list = True
        while not stop.is_set():
            try:
                if need_list:
                    self._relist()
                    need_list = False
                for kind, obj in watch(
                    self.owner.source, self.kind, self.resource_version, self.owner.timeout_seconds, self.namespace
                ):
                    self._apply(kind, obj)
                    if stop.is_set():
                        return
                backoff = 1.0
            except WatchExpired:
                need_list = True  # 410 Gone: our version is too old; list again, no back-off
            except (RemediatorError, OSError, ValueError, RuntimeError) as e:
                self.errors += 1
                log.warning("cache of %s: %s; retrying in %.0f s", self.kind, str(e)[:200], backoff)
                if stop.wait(backoff):
                    return
                backoff = min(backoff * 2, self.owner.max_backoff)
                need_list = need_list or self.objects is None
            except Exception as e:  # the client's own exceptions (never reach callers): back off, list again
                self.errors += 1
                log.warning("cache of %s: %s: %s", self.kind, type(e).__name__, str(e)[:200])
                if stop.wait(backoff):
                    return
                backoff = min(backoff * 2, self.owner.max_backoff)
                need_list = True


class Informer:
    """Watch-based cache of ``kinds`` (cluster-wide) and ``namespaced_kinds`` in ``namespaces``."""

    def __init__(
        self,
        source: LiveSource,
        kinds: Iterable[str] = CLUSTER_KINDS,
        namespaces: Iterable[str] = (),
        namespaced_kinds: Iterable[str] = NAMESPACED_KINDS,
        timeout_seconds: int = 300,
        max_backoff: float = 30.0,
    ) -> None:
        self.source = source
        self.timeout_seconds = timeout_seconds
        self.max_backoff = max_backoff
        self.lock = threading.Lock()
        self.reflectors: dict[str, list[_Reflector]] = {}
        for k in kinds:
            self.reflectors[k] = [_Reflector(self, k, None)]
        ns = sorted(set(namespaces))
        if ns:
            for k in namespaced_kinds:
                self.reflectors[k] = [_Reflector(self, k, n) for n in ns]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def cached(self, kind: str) -> list[Obj] | None:
        """Copies of the kind's objects (every watched namespace), or None when not (yet) cached."""
        refl = self.reflectors.get(kind)
        if not refl:
            return None
        with self.lock:
            if any(r.objects is None for r in refl):
                return None
            return [copy.deepcopy(o) for r in refl for o in (r.objects or {}).values()]

    def synced(self) -> bool:
        with self.lock:
            return all(r.objects is not None for refl in self.reflectors.values() for r in refl)

    @property
    def relists(self) -> int:
        return sum(r.relists for refl in self.reflectors.values() for r in refl)

    def start(self) -> None:
        self._stop.clear()
        for refl in self.reflectors.values():
            for r in refl:
                t = threading.Thread(
                    target=r.run, args=(self._stop,), name=f"informer-{r.kind}-{r.namespace or ''}", daemon=True
                )
                t.start()
                self._threads.append(t)

    def stop(self, timeout: float = 5.0) -> None:
        """Stops the watches; a thread blocked in a watch ends when the server closes it (daemon)."""
        self._stop.set()
        for t in self._threads:
            t.join(timeout / max(1, len(self._threads)))
        self._threads.clear()
