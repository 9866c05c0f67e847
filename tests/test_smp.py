"""Our strategic merge follows Kubernetes' patchMergeKey: ports merge by number, mounts by path."""

from __future__ import annotations

from remediator.edits.kustomize import smp_merge


def test_service_ports_merge_by_port_not_name() -> None:
    svc = {"spec": {"ports": [{"name": "http", "port": 80, "targetPort": 8080}]}}
    out = smp_merge(svc, {"spec": {"ports": [{"name": "web", "port": 80}]}})
    assert out == {"spec": {"ports": [{"name": "web", "port": 80, "targetPort": 8080}]}}


def test_container_ports_and_mounts_merge_by_their_keys_and_containers_by_name() -> None:
    base = {
        "containers": [
            {
                "name": "a",
                "ports": [{"containerPort": 80, "name": "http"}],
                "volumeMounts": [{"name": "v", "mountPath": "/d"}],
            }
        ]
    }
    patch = {
        "containers": [
            {
                "name": "a",
                "ports": [{"containerPort": 80, "name": "web"}],
                "volumeMounts": [{"name": "w", "mountPath": "/d"}],
            }
        ]
    }
    out = smp_merge(base, patch)
    c = out["containers"][0]
    assert c["ports"] == [{"containerPort": 80, "name": "web"}]
    assert c["volumeMounts"] == [{"name": "w", "mountPath": "/d"}]


def test_a_null_deletes_and_unkeyed_lists_are_replaced() -> None:
    base = {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}, "args": ["a", "b"]}
    out = smp_merge(base, {"strategy": {"type": "Recreate", "rollingUpdate": None}, "args": ["c"]})
    assert out == {"strategy": {"type": "Recreate"}, "args": ["c"]}
