"""The service's watch-based cache against the FAKE Kubernetes API through the real client: list,
watch from resourceVersion (ADDED / MODIFIED / DELETED, bookmarks), 410 Gone -> re-list, errors ->
back off; ``cached(kind)`` is None until the first list and for kinds not watched."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from remediator.errors import InputError
from remediator.evidence.sources.informer import CLUSTER_KINDS, Informer
from remediator.evidence.sources.live import LiveSource, list_with_version
from tests.fakes.kube_api import FakeKubeAPI

from .conftest import SCENARIOS

SNAP = SCENARIOS / "autoscaling-requests-plain" / "cluster"


def wait(pred: Any, timeout: float = 10) -> None:
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return
        time.sleep(0.02)
    raise AssertionError("timed out")


def node(name: str, rv: str, ready: str = "True") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "resourceVersion": rv},
        "status": {"conditions": [{"type": "Ready", "status": ready}]},
    }


def names(inf: Informer, kind: str) -> set[str]:
    return {o["metadata"]["name"] for o in inf.cached(kind) or []}


def test_nodes_follow_the_watch_and_relist_on_410(tmp_path: Path) -> None:
    with FakeKubeAPI(SNAP) as api:
        src = LiveSource.from_kubeconfig(kubeconfig=api.kubeconfig(tmp_path / "kc"))
        listed = {o["metadata"]["name"] for o in list_with_version(src, "Node")[0]}
        assert listed
        inf = Informer(src, kinds=["Node"], timeout_seconds=2, max_backoff=0.2)
        assert inf.cached("Node") is None and inf.cached("PersistentVolume") is None
        inf.start()
        try:
            wait(lambda: inf.cached("Node") is not None)
            assert names(inf, "Node") == listed
            rv0 = inf.reflectors["Node"][0].resource_version
            assert rv0 == api.list_version
            api.watch_events.put(("ADDED", node("node-new", "1001")))
            api.watch_events.put(("MODIFIED", node("node-new", "1002", ready="False")))
            gone = sorted(listed)[0]
            api.watch_events.put(("DELETED", node(gone, "1003")))
            api.watch_events.put(("BOOKMARK", {"kind": "Node", "metadata": {"resourceVersion": "1004"}}))
            wait(lambda: inf.reflectors["Node"][0].resource_version == "1004")
            assert names(inf, "Node") == (listed - {gone}) | {"node-new"}
            new = next(o for o in inf.cached("Node") or [] if o["metadata"]["name"] == "node-new")
            assert new["status"]["conditions"][0]["status"] == "False"
            new["status"] = {}  # callers get copies
            assert names(inf, "Node") == (listed - {gone}) | {"node-new"}
            assert inf.cached("Node") != [] and inf.relists == 1
            # the version expires: the next watch gets 410 Gone and the cache lists again
            api.expired.add("1004")
            api.list_version = "2000"
            api.watch_events.put(None)
            wait(lambda: inf.relists >= 2 and inf.reflectors["Node"][0].resource_version == "2000")
            assert names(inf, "Node") == listed  # the re-list replaced what the watch had built
        finally:
            inf.stop()
            api.watch_events.put(None)


def test_cluster_kinds_are_cached_and_errors_back_off(tmp_path: Path) -> None:
    with FakeKubeAPI(SNAP, forbid=("/apis/scheduling.k8s.io/v1/priorityclasses",)) as api:
        src = LiveSource.from_kubeconfig(kubeconfig=api.kubeconfig(tmp_path / "kc"))
        inf = Informer(src, kinds=CLUSTER_KINDS, timeout_seconds=1, max_backoff=0.2)
        inf.start()
        try:
            wait(lambda: all(inf.cached(k) is not None for k in CLUSTER_KINDS if k != "PriorityClass"))
            assert names(inf, "Node") == {o["metadata"]["name"] for o in api.objects.get(("Node", ""), [])}
            refl = inf.reflectors["PriorityClass"][0]
            wait(lambda: refl.errors >= 2)  # forbidden: retried with back-off, never cached
            assert inf.cached("PriorityClass") is None and not inf.synced()
        finally:
            inf.stop()
            for _ in range(len(CLUSTER_KINDS)):
                api.watch_events.put(None)


def test_unknown_kind_is_an_input_error(tmp_path: Path) -> None:
    with FakeKubeAPI(SNAP) as api:
        src = LiveSource.from_kubeconfig(kubeconfig=api.kubeconfig(tmp_path / "kc"))
        with pytest.raises(InputError, match="Frobnicator"):
            list_with_version(src, "Frobnicator")


def test_stop_ends_the_threads(tmp_path: Path) -> None:
    with FakeKubeAPI(SNAP) as api:
        src = LiveSource.from_kubeconfig(kubeconfig=api.kubeconfig(tmp_path / "kc"))
        inf = Informer(src, kinds=["Node"], namespaces=["demo"], namespaced_kinds=["Pod"], timeout_seconds=1)
        inf.start()
        wait(inf.synced)
        assert inf.cached("Pod") is not None
        inf.stop(timeout=5)
        api.watch_events.put(None)
        api.watch_events.put(None)
        wait(lambda: not any(t.name.startswith("informer-") for t in threading.enumerate()), timeout=5)


def test_the_collector_reads_cluster_kinds_from_the_cache(tmp_path: Path) -> None:
    from remediator.diagnose import diagnose
    from remediator.evidence.sources.collect import Live, collect

    snap = SCENARIOS / "seed001-memory-demo-oom" / "cluster"
    with FakeKubeAPI(snap) as api:
        kc = api.kubeconfig(tmp_path / "kc")
        inf = Informer(LiveSource.from_kubeconfig(kubeconfig=kc), kinds=CLUSTER_KINDS, timeout_seconds=1)
        inf.start()
        try:
            wait(inf.synced)
            without = collect("memory-demo", Live(kubeconfig=kc, probe_models=False))
            api.requests.clear()
            with_cache = collect("memory-demo", Live(kubeconfig=kc, probe_models=False, cache=inf))
            asked = [r for r in api.requests if "watch=true" not in r]
        finally:
            inf.stop()
            for _ in range(len(CLUSTER_KINDS)):
                api.watch_events.put(None)
    assert not any(r.startswith(("/api/v1/nodes", "/apis/storage.k8s.io/v1/storageclasses")) for r in asked), asked
    want = [(f.category, f.culprit) for f in diagnose(without, "memory-demo").findings]
    assert [(f.category, f.culprit) for f in diagnose(with_cache, "memory-demo").findings] == want
