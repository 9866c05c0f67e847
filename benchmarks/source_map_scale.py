"""Source mapping at scale: a monorepo of 20,000 YAML files in 500 app paths (plain and Kustomize).

Index every app once, then map 1,000 culprits (kind, namespace, name as the cluster shows them,
so Kustomize prefixes and namespaces are resolved) to the file and document that declare them.
Prints the figures; the last line is JSON: {"files", "index_s", "map_ms_p50", "map_ms_p99",
"parse_s", "ratio", "mapped"}. ``parse_s`` is the baseline measured in the same run: parsing every
file once with libyaml's C loader and nothing else; ``ratio`` = index_s / parse_s.
Targets: index <= 5 s, p99 map <= 50 ms, every culprit mapped to the right file.
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from remediator.edits.index import SourceIndex
from remediator.model import ObjectRef

APPS, FILES = 500, 20_000
PER_APP = FILES // APPS  # 40 files per app path, kustomizations included


def deployment(name: str, ns: str | None) -> str:
    meta = f"  name: {name}\n" + (f"  namespace: {ns}\n" if ns else "")
    return (
        f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n{meta}  labels:\n    app: {name}\nspec:\n  replicas: 2\n"
        f"  selector:\n    matchLabels:\n      app: {name}\n  template:\n    metadata:\n      labels:\n        app: {name}\n"
        f"    spec:\n      containers:\n      - name: {name}\n        image: registry.example.org/{name}:1.0.{len(name)}\n"
        f"        resources:\n          limits:\n            memory: 256Mi\n          requests:\n            memory: 128Mi\n"
        f"        env:\n        - name: LOG_LEVEL\n          value: info\n---\napiVersion: v1\nkind: Service\nmetadata:\n"
        f"{meta}spec:\n  selector:\n    app: {name}\n  ports:\n  - port: 80\n    targetPort: 8080\n"
    )


def generate(root: Path) -> tuple[list[tuple[str, ObjectRef, str]], int]:
    """Returns (app path, culprit as the cluster names it, expected file) samples and the file count."""
    rng = random.Random(7)
    samples: list[tuple[str, ObjectRef, str]] = []
    files = 0
    for a in range(APPS):
        team = f"team{a % 25:02d}"
        ns = f"{team}-app{a:03d}"
        if a % 2 == 0:  # plain directory, files in nested folders
            app_path = f"apps/{team}/app{a:03d}"
            for i in range(PER_APP):
                rel = f"{app_path}/{'deploy' if i % 2 else 'svc'}/c{i:02d}.yaml"
                (root / rel).parent.mkdir(parents=True, exist_ok=True)
                (root / rel).write_text(deployment(f"c{i:02d}", ns))
                files += 1
                if rng.random() < 0.05:
                    samples.append((app_path, ObjectRef("Deployment", ns, f"c{i:02d}"), rel))
        else:  # kustomize: base with 38 resources, overlay with a prefix and a patch
            base = f"apps/{team}/app{a:03d}/base"
            overlay = f"apps/{team}/app{a:03d}/overlays/prod"
            names = [f"c{i:02d}" for i in range(PER_APP - 3)]
            for n in names:
                (root / base).mkdir(parents=True, exist_ok=True)
                (root / base / f"{n}.yaml").write_text(deployment(n, None))
                files += 1
            (root / base / "kustomization.yaml").write_text("resources:\n" + "".join(f"- {n}.yaml\n" for n in names))
            (root / overlay).mkdir(parents=True, exist_ok=True)
            (root / overlay / "kustomization.yaml").write_text(
                f"namespace: {ns}\nnamePrefix: prod-\nresources:\n- ../../base\npatches:\n- path: mem.yaml\n"
            )
            (root / overlay / "mem.yaml").write_text(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: c00\nspec:\n  template:\n    spec:\n"
                "      containers:\n      - name: c00\n        resources:\n          limits:\n            memory: 1Gi\n"
            )
            files += 3
            for n in names:
                if rng.random() < 0.05:
                    samples.append((overlay, ObjectRef("Deployment", ns, f"prod-{n}"), f"{base}/{n}.yaml"))
    rng.shuffle(samples)
    while len(samples) < 1000:
        samples += samples[: 1000 - len(samples)]
    return samples[:1000], files


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "repo"
        t = time.perf_counter()
        samples, files = generate(root)
        print(f"generated {files} files in {APPS} app paths in {time.perf_counter() - t:.1f}s; {len(samples)} culprits")

        t = time.perf_counter()
        for p in root.rglob("*.yaml"):
            list(yaml.load_all(p.read_text(), Loader=yaml.CSafeLoader))
        parse_s = time.perf_counter() - t

        t = time.perf_counter()
        index = SourceIndex(root)
        apps = sorted(
            {s[0] for s in samples}
            | {str(p.parent.relative_to(root)) for p in root.glob("apps/*/*/overlays/prod/kustomization.yaml")}
        )
        plain = sorted({str(p.relative_to(root)) for p in root.glob("apps/*/app*") if not (p / "base").exists()})
        for a in sorted(set(apps) | set(plain)):
            index.source(a, "", {"directory": {"recurse": True}} if "overlays" not in a else None)
        index.kustomization_users()
        index_s = time.perf_counter() - t

        times, mapped = [], 0
        for app_path, ref, expected in samples:
            t = time.perf_counter()
            src = index.source(app_path, "", {"directory": {"recurse": True}} if "overlays" not in app_path else None)
            found = src.find(ref)
            times.append((time.perf_counter() - t) * 1000)
            if len(found) == 1 and found[0].base is not None and found[0].base.file == expected:
                mapped += 1
    times.sort()
    p50 = statistics.median(times)
    p99 = times[int(len(times) * 0.99) - 1]
    print(f"parse baseline {parse_s:.2f}s; index {index_s:.2f}s (ratio {index_s / parse_s:.2f}; target <= 5 s)")
    print(f"map p50 {p50:.3f} ms, p99 {p99:.3f} ms (target <= 50 ms); mapped {mapped}/{len(samples)} to the right file")
    print(
        json.dumps(
            {
                "files": files,
                "index_s": round(index_s, 3),
                "map_ms_p50": round(p50, 3),
                "map_ms_p99": round(p99, 3),
                "parse_s": round(parse_s, 3),
                "ratio": round(index_s / parse_s, 2),
                "mapped": mapped,
            }
        )
    )
    if mapped != len(samples):
        sys.exit(1)


if __name__ == "__main__":
    main()
