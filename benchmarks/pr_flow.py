"""The pull-request flow at scale: 100 incidents across 20 apps, with repeats, against a fake GitHub
REST server on 127.0.0.1 and bare git remotes on disk.

Each app is the memory-demo OOM incident under its own name and remote. Every app fires five times
(Argo CD notifies again while it stays Degraded); the fourth time the policy's memory factor
changes, so the proposed change differs and the open PR must be updated, not duplicated.
Prints the figures; the last line is JSON:
{"incidents", "prs_opened", "prs_updated", "duplicates", "p50_s", "p99_s", "first_p50_s", "repeat_p50_s",
"baseline_git_s", "ratio"}. The baseline, measured in the same run, is the raw git work of one incident
(shallow clone, edit, commit, push) with the git command line.
Targets: duplicates 0; median incident-to-PR time well under a second (no model involved).
"""

from __future__ import annotations

import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from remediator.diagnose import diagnose  # noqa: E402
from remediator.eval import load_scenario  # noqa: E402
from remediator.policy import Policy  # noqa: E402
from remediator.publish.checkout import Checkout  # noqa: E402
from remediator.publish.examples import example_remote  # noqa: E402
from remediator.publish.github import GitHubProvider  # noqa: E402
from remediator.publish.propose import propose  # noqa: E402
from tests.fakes.github_api import FakeGitHub  # noqa: E402

APPS, REPEATS = 20, 5
SCENARIO = ROOT / "tests" / "scenarios" / "seed001-memory-demo-oom"


def main() -> None:
    ev, truth = load_scenario(SCENARIO)
    base_d = diagnose(ev, truth["app"])
    policy = Policy()
    bigger = policy.model_copy(update={"memory": policy.memory.model_copy(update={"factor": 2.0})})
    order = [(a, r) for a in range(APPS) for r in range(REPEATS)]
    random.Random(3).shuffle(order)
    order.sort(key=lambda x: x[1])  # incidents arrive in rounds; apps interleave within a round
    times: list[tuple[int, float]] = []
    actions: Counter[str] = Counter()
    token = "ghp_benchmarktoken000000000000000000000000"
    with tempfile.TemporaryDirectory() as tmp, FakeGitHub(token=token) as gh:
        remotes = {}
        for a in range(APPS):
            repo = Path(tmp) / f"src{a}"
            shutil.copytree(SCENARIO / "repo", repo)
            remotes[a] = example_remote(repo, Path(tmp) / f"remote{a}.git")
        provider = GitHubProvider(
            "acme/deploy", token, gh.url, retries=3, backoff=0.01, seconds_between_requests=0, seconds_between_writes=0
        )
        for a, r in order:
            d = replace(base_d, app=f"shop-{a:02d}")
            pol = bigger if r >= 3 else policy
            t = time.perf_counter()
            out = propose(d, ev, pol, provider, Checkout(str(remotes[a]), Path(tmp) / "cache"), "main")
            times.append((r, time.perf_counter() - t))
            actions[out.action] += 1
        base_times = []
        for a in range(APPS):  # baseline: the bare git work of one incident (clone, edit, commit, push)
            work = Path(tmp) / f"raw{a}"
            t = time.perf_counter()
            subprocess.run(["git", "clone", "-q", "--depth", "1", remotes[a].as_uri(), str(work)], check=True)
            f = work / "deploy" / "memory-demo" / "deployment.yaml"
            f.write_text(f.read_text().replace("memory: 100Mi", "memory: 192Mi"))
            g = ["git", "-C", str(work), "-c", "user.name=b", "-c", "user.email=b@e"]
            subprocess.run([*g, "commit", "-qam", "raw"], check=True)
            subprocess.run([*g, "push", "-q", "origin", "HEAD:refs/heads/raw"], check=True)
            base_times.append(time.perf_counter() - t)
        per_app = Counter(p["head"].split("/")[1] for p in gh.repo.pulls if p["state"] == "open")
        duplicates = sum(n - 1 for n in per_app.values() if n > 1)
        opened = gh.count("POST", r"/repos/acme/deploy/pulls")
    all_t = sorted(t for _, t in times)
    p50 = statistics.median(all_t)
    p99 = all_t[max(0, int(len(all_t) * 0.99) - 1)]
    first = statistics.median(t for r, t in times if r == 0)
    repeat = statistics.median(t for r, t in times if r > 0)
    baseline = statistics.median(base_times)
    print(f"baseline: raw git clone + edit + commit + push of one incident, p50 {baseline:.3f}s")
    print(f"{len(times)} incidents, {APPS} apps: {dict(actions)}")
    print(f"PRs opened {opened}, updated {actions['updated']}, duplicates {duplicates} (target 0)")
    print(
        f"incident-to-PR p50 {p50:.3f}s (ratio {p50 / baseline:.2f} to the baseline), p99 {p99:.3f}s; "
        f"first incident p50 {first:.3f}s, repeats p50 {repeat:.3f}s"
    )
    print(
        json.dumps(
            {
                "incidents": len(times),
                "prs_opened": opened,
                "prs_updated": actions["updated"],
                "duplicates": duplicates,
                "p50_s": round(p50, 3),
                "p99_s": round(p99, 3),
                "first_p50_s": round(first, 3),
                "repeat_p50_s": round(repeat, 3),
                "baseline_git_s": round(baseline, 3),
                "ratio": round(p50 / baseline, 2),
            }
        )
    )
    if duplicates:
        sys.exit(1)


if __name__ == "__main__":
    main()
