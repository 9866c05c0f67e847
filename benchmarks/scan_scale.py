"""The daily scan at scale: 200 Argo CD Applications, 10,000 pods, 20,000 events, 200 logs; 10 apps
Degraded (OOM crash loop), 20 Healthy apps with a recent OOM kill, the rest clean.

Prints the figures; the last line is JSON:
{"apps", "pods", "events", "diagnose_s", "scan_s", "ratio", "diagnose_peak_mib", "scan_peak_mib",
 "critical", "warning", "ok", "expected_ok"}

``diagnose_s`` is one ``diagnose`` of the whole snapshot (read it into the evidence store, run every
detector once); ``scan_s`` reads the same snapshot once and scans every app (partition by
namespace, scope, diagnose the Degraded, risks of the Healthy). Each runs in its own child process
so its peak memory (ru_maxrss) is its own. The pod and deployment builders are diagnose_scale's.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from diagnose_scale import FILLER_LOG, cstat, deploy, ev, pod  # noqa: E402

Obj = dict[str, Any]
APPS, DEPLOYS_PER_APP, PODS_PER_DEPLOY, EVENTS_PER_POD = 200, 10, 5, 2
DEGRADED, RISKY = 10, 20
NOW = "2026-01-10T12:00:00Z"


def application(name: str, health: str, deployments: list[str]) -> Obj:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": "argocd"},
        "spec": {"destination": {"namespace": name, "server": "https://kubernetes.default.svc"}},
        "status": {
            "health": {"status": health},
            "sync": {"status": "Synced"},
            "resources": [{"group": "apps", "kind": "Deployment", "namespace": name, "name": d} for d in deployments],
        },
    }


def generate(root: Path) -> dict[str, int]:
    root.mkdir(parents=True)
    oom = {"reason": "OOMKilled", "exitCode": 137, "finishedAt": "2026-01-10T11:00:00Z"}
    apps, objs, events, pods = [], [], [], []
    for a in range(APPS):
        ns = f"app-{a:03d}"
        degraded, risky = a < DEGRADED, DEGRADED <= a < DEGRADED + RISKY
        names = [f"{ns}-svc-{k}" for k in range(DEPLOYS_PER_APP)]
        apps.append(application(ns, "Degraded" if degraded else "Healthy", names))
        for k, name in enumerate(names):
            bad = degraded and k == 0
            d = deploy(ns, name, [{"name": "app", "image": f"registry.local/{name}:1",
                                   "resources": {"limits": {"memory": "256Mi"}}}],
                       ready=0 if bad else PODS_PER_DEPLOY)  # fmt: skip
            objs.append(d)
            for n in range(PODS_PER_DEPLOY):
                if bad:
                    st = [cstat("app", False, 9, "CrashLoopBackOff", "back-off 5m0s", oom)]
                elif risky and k == 0 and n == 0:
                    st = [cstat("app", True, 1, last=oom)]
                else:
                    st = [cstat("app")]
                pods.append(pod(d, f"{n:05d}", st, ready=not bad, node=f"node-{(a + n) % 40}"))
    for i, p in enumerate(pods):
        for j in range(EVENTS_PER_POD):
            e = ev("Pod", p["metadata"]["namespace"], p["metadata"]["name"], ("Pulled", "Started")[j],
                   "Container image already present on machine", "Normal")  # fmt: skip
            e["metadata"]["name"] += f".{i}.{j}"
            e["lastTimestamp"] = NOW
            events.append(e)
    nodes = [
        {"apiVersion": "v1", "kind": "Node", "metadata": {"name": f"node-{i}"},
         "status": {"conditions": [{"type": "Ready", "status": "True"}]}}
        for i in range(40)
    ]  # fmt: skip
    (root / "argocd").mkdir()
    (root / "argocd" / "applications.yaml").write_text(yaml.dump_all(apps, Dumper=yaml.CSafeDumper))
    (root / "objects.yaml").write_text(yaml.dump_all(nodes + objs, Dumper=yaml.CSafeDumper))
    (root / "pods").mkdir()
    for i in range(0, len(pods), 500):
        items = [{k: v for k, v in p.items() if k not in ("kind", "apiVersion")} for p in pods[i : i + 500]]
        (root / "pods" / f"pods-{i // 500:02d}.yaml").write_text(
            yaml.dump({"apiVersion": "v1", "kind": "PodList", "items": items}, Dumper=yaml.CSafeDumper)
        )
    (root / "events").mkdir()
    for i in range(0, len(events), 5000):
        (root / "events" / f"events-{i // 5000:02d}.json").write_text(
            json.dumps({"apiVersion": "v1", "kind": "List", "items": events[i : i + 5000]})
        )
    for p in pods[:: len(pods) // APPS]:
        d = root / "logs" / p["metadata"]["namespace"] / p["metadata"]["name"]
        d.mkdir(parents=True, exist_ok=True)
        (d / "app.log").write_text("\n".join(FILLER_LOG) + "\n")
    return {"apps": APPS, "pods": len(pods), "events": len(events)}


def measure(what: str, root: Path) -> dict[str, Any]:
    from remediator.diagnose import diagnose
    from remediator.evidence.sources.snapshot import load_snapshot
    from remediator.scan import scan

    t = time.perf_counter()
    evidence = load_snapshot(root)
    out: dict[str, Any] = {}
    if what == "diagnose":
        d = diagnose(evidence)
        out["findings"] = len(d.findings)
    else:
        r = scan(evidence)
        out.update(r.counts())
    out["seconds"] = time.perf_counter() - t
    out["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def child(what: str, root: Path) -> dict[str, Any]:
    res = subprocess.run(
        [sys.executable, __file__, "--measure", what, str(root)], check=True, capture_output=True, text=True
    )
    data: dict[str, Any] = json.loads(res.stdout.strip().splitlines()[-1])
    return data


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--measure":
        print(json.dumps(measure(sys.argv[2], Path(sys.argv[3]))))
        return
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "snapshot"
        t = time.perf_counter()
        size = generate(root)
        print(
            f"generated {size['apps']} apps, {size['pods']} pods, {size['events']} events in {time.perf_counter() - t:.1f}s"
        )
        d = child("diagnose", root)
        s = child("scan", root)
    ratio = s["seconds"] / d["seconds"]
    print(f"diagnose (whole snapshot, once): {d['seconds']:.2f}s, peak {d['peak_mib']:.0f} MiB")
    print(
        f"scan ({size['apps']} apps): {s['seconds']:.2f}s, peak {s['peak_mib']:.0f} MiB; ratio {ratio:.2f}; "
        f"{s['critical']} critical, {s['warning']} warning, {s['ok']} ok (expected {DEGRADED}, {RISKY}, "
        f"{APPS - DEGRADED - RISKY})"
    )
    print(
        json.dumps(
            {
                **size,
                "diagnose_s": round(d["seconds"], 3),
                "scan_s": round(s["seconds"], 3),
                "ratio": round(ratio, 3),
                "diagnose_peak_mib": round(d["peak_mib"], 1),
                "scan_peak_mib": round(s["peak_mib"], 1),
                "critical": s["critical"],
                "warning": s["warning"],
                "ok": s["ok"],
                "expected_ok": APPS - DEGRADED - RISKY,
            }
        )
    )


if __name__ == "__main__":
    main()
