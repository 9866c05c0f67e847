"""Scheduling (node selector, anti-affinity, what the platform decides) and container command remedies:
message parsing and the cases the scenarios do not cover, on evidence built in memory."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from remediator.detectors.container_start import NOT_FOUND as DETECTOR_NOT_FOUND
from remediator.detectors.unschedulable import reasons
from remediator.evidence.store import Evidence
from remediator.model import Category, Finding, ObjectRef
from remediator.policy import Policy
from remediator.remedies import REMEDIES, anti_affinity, container_command, node_selector
from remediator.remedies.base import Context, Proposal, Refusal, RemoveField, SetField
from remediator.remedies.nearest import distance, nearest

WL = ObjectRef("Deployment", "shop", "web")
SEL_MSG = (
    "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector. preemption: 0/3 nodes are "
    "available: 3 Preemption is not helpful for scheduling."
)
ANTI = (
    "0/4 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, "
    "3 node(s) didn't match pod anti-affinity rules. preemption: 0/4 nodes are available: 1 Preemption is not "
    "helpful for scheduling, 3 No preemption victims found for incoming pod."
)


def node(name: str, taints: list[dict[str, Any]] | None = None, ready: str = "True", **lab: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **lab}},
        "spec": {"taints": taints} if taints else {},
        "status": {
            "allocatable": {"cpu": "4", "memory": "16Gi", "pods": "110"},
            "conditions": [{"type": "Ready", "status": ready}],
        },
    }


def deployment(pod_spec: dict[str, Any], replicas: int = 2, labels: dict[str, str] | None = None) -> dict[str, Any]:
    lab = labels or {"app": "web"}
    spec = {"containers": [{"name": "app", "image": "ghcr.io/acme/web:1.0"}], **pod_spec}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": lab},
            "template": {"metadata": {"labels": lab}, "spec": spec},
        },
    }


def ctx(*objs: dict[str, Any], desired: list[dict[str, Any]] | None = None) -> Context:
    ev = Evidence()
    for o in objs:
        ev.add(copy.deepcopy(o))
    return Context(ev, Policy(), desired if desired is not None else [])


def unschedulable(msg: str) -> Finding:
    total, why = reasons(msg)
    return Finding(
        Category.UNSCHEDULABLE,
        WL,
        "pods cannot be scheduled",
        0.85,
        (),
        (),
        details={"message": msg, "nodes_total": total, "reasons": why},
    )


# --- the scheduler's message ---------------------------------------------------------------------


def test_failed_scheduling_message_is_split_into_node_counts() -> None:
    total, why = reasons(ANTI)
    assert total == 4
    assert why == {
        "node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }": 1,
        "node(s) didn't match pod anti-affinity rules": 3,
    }
    assert reasons("0/5 nodes are available: 2 Insufficient cpu, 3 Insufficient nvidia.com/gpu.") == (
        5,
        {"Insufficient cpu": 2, "Insufficient nvidia.com/gpu": 3},
    )
    assert reasons("pod has unbound immediate PersistentVolumeClaims") == (None, {})


def test_distance_counts_a_swap_of_neighbours_as_one_edit() -> None:
    assert distance("pyhton", "python") == 1
    assert distance("europe-west1b", "europe-west1-b") == 1
    assert distance("europe-west1b", "europe-west1-c") == 2
    assert nearest("SSD", ["ssd", "hdd"], 2) == (["ssd"], 0)
    assert nearest("sdd", ["ssd", "hdd"], 2) == (["hdd", "ssd"], 1)  # a tie
    assert nearest("nvme", ["ssd", "hdd"], 2) == ([], None)


# --- node selector -------------------------------------------------------------------------------


def test_a_tie_between_two_near_values_is_refused() -> None:
    dep = deployment({"nodeSelector": {"disktype": "sdd"}})
    c = ctx(dep, node("a", disktype="ssd"), node("b", disktype="hdd"), node("c", disktype="ssd"))
    out = node_selector.plan(unschedulable(SEL_MSG), c)
    assert isinstance(out, Refusal) and "equally near" in out.reason and out.rule == "node-selector"


def test_a_value_far_from_every_node_label_is_reported() -> None:
    dep = deployment({"nodeSelector": {"disktype": "nvme"}})
    out = node_selector.plan(
        unschedulable(SEL_MSG), ctx(dep, node("a", disktype="ssd"), node("b", disktype="hdd"), node("c"))
    )
    assert isinstance(out, Refusal) and "within 2 edits" in out.reason


def test_without_nodes_in_the_evidence_nothing_is_guessed() -> None:
    dep = deployment({"nodeSelector": {"disktype": "sdd"}})
    out = node_selector.plan(unschedulable(SEL_MSG), ctx(dep))
    assert isinstance(out, Refusal) and "no Node objects" in out.reason


def test_a_required_node_affinity_value_is_corrected_in_place() -> None:
    aff = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "pool", "operator": "In", "values": ["batch-hihgmem"]}]}
                ]
            }
        }
    }
    dep = deployment({"affinity": aff})
    c = ctx(dep, node("a", pool="batch-highmem"), node("b", pool="general"), node("c", pool="general"))
    out = node_selector.plan(unschedulable(SEL_MSG), c)
    assert isinstance(out, Proposal)
    (ch,) = out.changes
    assert isinstance(ch, SetField) and ch.value == "batch-highmem" and ch.current == "batch-hihgmem"
    assert ch.path[-6:] == ("nodeSelectorTerms", 0, "matchExpressions", 0, "values", 0)


def test_a_hostname_pin_to_a_node_that_is_gone_is_removed_with_what_becomes_empty() -> None:
    aff = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": ["old-7"]}]}
                ]
            }
        }
    }
    dep = deployment({"affinity": aff, "nodeSelector": {"kubernetes.io/os": "linux"}})
    c = ctx(dep, *(node(n, **{"kubernetes.io/os": "linux"}) for n in ("a", "b", "c")))
    out = node_selector.plan(unschedulable(SEL_MSG), c)
    assert isinstance(out, Proposal)
    (ch,) = out.changes
    assert isinstance(ch, RemoveField) and ch.path == ("spec", "template", "spec", "affinity")
    assert out.checks[0].value is None


def test_a_pin_to_a_node_that_exists_but_is_not_ready_is_not_dropped() -> None:
    dep = deployment({"nodeSelector": {"kubernetes.io/hostname": "b"}})
    out = node_selector.plan(unschedulable(SEL_MSG), ctx(dep, node("a"), node("b", ready="False"), node("c")))
    assert isinstance(out, Refusal) and "b (NotReady)" in out.reason


def test_a_corrected_value_that_only_tainted_nodes_have_is_refused() -> None:
    dep = deployment({"nodeSelector": {"pool": "GPU"}})
    taint = [{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}]
    c = ctx(dep, node("a", pool="general"), node("b", pool="general"), node("g", taints=taint, pool="gpu"))
    out = node_selector.plan(unschedulable(SEL_MSG), c)
    assert isinstance(out, Refusal) and "taint nvidia.com/gpu=present:NoSchedule" in out.reason


def test_alternative_node_selector_terms_are_not_guessed() -> None:
    term = {"matchExpressions": [{"key": "pool", "operator": "In", "values": ["x"]}]}
    aff = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term, term]}}}
    out = node_selector.plan(
        unschedulable(SEL_MSG), ctx(deployment({"affinity": aff}), *(node(n, pool="y") for n in "abc"))
    )
    assert isinstance(out, Refusal) and "alternative nodeSelectorTerms" in out.reason


def test_the_scheduler_seeing_more_nodes_than_the_evidence_holds_is_refused() -> None:
    dep = deployment({"nodeSelector": {"disktype": "sdd"}})
    out = node_selector.plan(unschedulable(SEL_MSG), ctx(dep, node("a", disktype="ssd")))
    assert isinstance(out, Refusal) and "the scheduler saw 3 nodes" in out.reason


# --- what the platform decides --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("msg", "resources", "says"),
    [
        (
            "0/3 nodes are available: 3 Insufficient nvidia.com/gpu.",
            {"limits": {"nvidia.com/gpu": 1}},
            "no node offers",
        ),
        ("0/3 nodes are available: 3 Insufficient memory.", {"requests": {"memory": "64Gi"}}, "more than any node"),
        ("0/3 nodes are available: 3 Insufficient cpu.", {"requests": {"cpu": "500m"}}, "no cpu left"),
        (
            "0/3 nodes are available: 3 node(s) had untolerated taint {dedicated: db}.",
            {},
            "tolerations are not added",
        ),
    ],
)
def test_capacity_gpus_and_taints_are_the_platforms_call(msg: str, resources: dict[str, Any], says: str) -> None:
    dep = deployment({"containers": [{"name": "app", "image": "x", "resources": resources}]})
    c = ctx(dep, node("a"), node("b"), node("c"))
    f = unschedulable(msg)
    outs = [r.plan(f, c) for r in REMEDIES["unschedulable"]]
    assert all(isinstance(o, Refusal) for o in outs)
    first = outs[0]
    assert isinstance(first, Refusal) and says in first.reason and first.rule == "platform-decision"


# --- anti-affinity ---------------------------------------------------------------------------------


def spread(topology: str = "kubernetes.io/hostname", app: str = "web") -> dict[str, Any]:
    term = {"labelSelector": {"matchLabels": {"app": app}}, "topologyKey": topology}
    return {"affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term]}}}


def test_more_replicas_than_nodes_turns_the_spread_into_a_preference() -> None:
    cp = [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]
    c = ctx(deployment(spread(), replicas=4), node("cp", taints=cp), node("a"), node("b"), node("c"))
    out = anti_affinity.plan(unschedulable(ANTI), c)
    assert isinstance(out, Proposal)
    set_, remove = out.changes
    assert isinstance(set_, SetField) and isinstance(remove, RemoveField)
    assert set_.value == [
        {
            "weight": 100,
            "podAffinityTerm": {
                "labelSelector": {"matchLabels": {"app": "web"}},
                "topologyKey": "kubernetes.io/hostname",
            },
        }
    ]
    assert remove.path[-1] == "requiredDuringSchedulingIgnoredDuringExecution"


def test_without_nodes_the_count_comes_from_the_message() -> None:
    out = anti_affinity.plan(unschedulable(ANTI), ctx(deployment(spread(), replicas=4)))
    assert isinstance(out, Proposal) and "the scheduler found 3 otherwise suitable node(s)" in out.reason
    out = anti_affinity.plan(unschedulable(ANTI), ctx(deployment(spread(), replicas=3)))
    assert isinstance(out, Refusal) and "surge" in out.reason


@pytest.mark.parametrize(
    ("pod_spec", "says"),
    [
        (spread(topology="topology.kubernetes.io/zone"), "not a single one-pod-per-node spread"),
        (spread(app="database"), "not a single one-pod-per-node spread"),
        ({}, "another workload's"),
    ],
)
def test_other_anti_affinity_is_reported(pod_spec: dict[str, Any], says: str) -> None:
    c = ctx(deployment(pod_spec, replicas=5), node("a"), node("b"), node("c"))
    out = anti_affinity.plan(unschedulable(ANTI), c)
    assert isinstance(out, Refusal) and says in out.reason and out.rule == "anti-affinity-preferred"


# --- container command ---------------------------------------------------------------------------

CONTAINERD = (
    "failed to create containerd task: failed to create shim task: OCI runtime create failed: runc create failed: "
    'unable to start container process: exec: "pyhton": executable file not found in $PATH: unknown'
)
CRIO = (
    'container create failed: time="2025-12-03T14:22:08Z" level=error msg="runc create failed: unable to start '
    'container process: exec: \\"celery\\": executable file not found in $PATH"'
)


def test_the_missing_executable_is_read_from_containerd_and_cri_o_messages() -> None:
    assert (m := DETECTOR_NOT_FOUND.search(CONTAINERD)) and m.group(1) == "pyhton"
    assert (m := DETECTOR_NOT_FOUND.search(CRIO)) and m.group(1) == "celery"
    assert (m := container_command.NOT_FOUND.search(CRIO)) and m.group(1) == "celery"


@pytest.mark.parametrize(
    ("image", "repo"),
    [
        ("python:3.12-slim", "python"),
        ("docker.io/library/busybox:1.36@sha256:abc", "busybox"),
        ("registry.local:5000/team/app:1.2", "registry.local:5000/team/app"),
        ("ghcr.io/acme/app", "ghcr.io/acme/app"),
    ],
)
def test_image_repository(image: str, repo: str) -> None:
    assert container_command.repository(image) == repo


def start_error(missing: str | None, container: str = "app") -> Finding:
    return Finding(
        Category.CONTAINER_START_ERROR,
        WL,
        "cannot start",
        0.9,
        (),
        (),
        details={"container": container, "missing_executable": missing},
    )


def with_container(**c: Any) -> dict[str, Any]:
    return deployment({"containers": [{"name": "app", **c}]})


def test_an_applet_of_a_well_known_base_image_fixes_the_command() -> None:
    dep = with_container(image="busybox:1.36", command=["slep", "3600"])
    out = container_command.plan(start_error("slep"), ctx(dep))
    assert isinstance(out, Proposal)
    (ch,) = out.changes
    assert isinstance(ch, SetField) and ch.value == "sleep" and ch.path[-2:] == ("command", 0)


def test_args_name_the_executable_when_there_is_no_command() -> None:
    dep = with_container(image="python:3.12", args=["pyhton3", "-m", "http.server"])
    out = container_command.plan(start_error("pyhton3"), ctx(dep))
    assert isinstance(out, Proposal)
    (ch,) = out.changes
    assert isinstance(ch, SetField) and ch.value == "python3" and ch.path[-2:] == ("args", 0)


def test_the_same_image_elsewhere_tells_what_it_has() -> None:
    broken = with_container(image="ghcr.io/acme/jobs:2.0", command=["celey", "worker"])
    other = copy.deepcopy(broken)
    other["metadata"]["name"] = "beat"
    other["spec"]["template"]["spec"]["containers"][0]["command"] = ["celery", "beat"]
    out = container_command.plan(start_error("celey"), ctx(broken, other))
    assert isinstance(out, Proposal) and "Deployment shop/beat" in out.reason
    ch = out.changes[0]
    assert isinstance(ch, SetField) and ch.value == "celery"


@pytest.mark.parametrize(
    ("missing", "container", "says"),
    [
        (None, {"image": "python:3.12", "command": ["python"]}, "exec format error"),
        ("entrypoint.sh", {"image": "ghcr.io/acme/x:1", "args": ["--port", "80"]}, "image's entrypoint"),
        ("frobnicate", {"image": "ghcr.io/acme/x:1", "command": ["frobnicate"]}, "no executable the image"),
        ("pip4", {"image": "python:3.12", "command": ["pip4", "install"]}, "not guessing"),
    ],
)
def test_what_the_evidence_does_not_decide_is_reported(
    missing: str | None, container: dict[str, Any], says: str
) -> None:
    out = container_command.plan(start_error(missing), ctx(with_container(**container)))
    assert isinstance(out, Refusal) and says in out.reason and out.rule == "container-command"


def test_a_name_other_pods_also_fail_to_find_is_no_candidate() -> None:
    broken = with_container(image="ghcr.io/acme/jobs:2.0", command=["celey", "worker"])
    other = copy.deepcopy(broken)
    other["metadata"]["name"] = "beat"
    other["spec"]["template"]["spec"]["containers"][0]["command"] = ["celery", "beat"]
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "beat-1", "namespace": "shop"},
        "status": {
            "containerStatuses": [
                {
                    "name": "app",
                    "lastState": {
                        "terminated": {"reason": "StartError", "message": CONTAINERD.replace("pyhton", "celery")}
                    },
                }
            ]
        },
    }
    out = container_command.plan(start_error("celey"), ctx(broken, other, pod))
    assert isinstance(out, Refusal)
