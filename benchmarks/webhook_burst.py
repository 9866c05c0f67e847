"""A notification storm against ``remediator serve``: 1,000 Argo CD notifications for 50 apps within
10 s (repeats, and health states out of order: Progressing/Healthy/Degraded interleaved), the
service running as a real process (uvicorn) with its SQLite journal, bare git remotes on disk and
the fake GitHub REST server on 127.0.0.1.

``--one-repo``: the 50 apps are deployed from ONE repository (the usual GitOps monorepo, each app
its own ``deploy/<app>/`` folder, every Application's repoURL the same bare remote), so every run
shares one clone; each PR's branch must then hold exactly one commit changing exactly its app's
file (``wrong_branches`` counts the others), and no run may fail.

Prints the figures; the last line is JSON:
{"requests", "apps", "one_repo", "accepted", "prs", "duplicates", "lost", "failed_runs",
 "wrong_branches", "accept_p50_ms", "accept_p99_ms", "baseline_p50_ms", "drain_s"}.
``baseline_p50_ms`` is GET /healthz on the same server in the same run (the cost of the HTTP round
trip alone). Targets: nothing lost, no duplicate, no failed run, exactly one PR per app and cause,
accept p99 under 50 ms.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from remediator.publish.examples import example_remote  # noqa: E402
from remediator.service.journal import Journal  # noqa: E402
from tests.fakes.github_api import FakeGitHub  # noqa: E402
from tests.test_service import branch_changes, make_monorepo  # noqa: E402

APPS, REQUESTS, SENDERS = 50, 1000, 4
SCENARIO = ROOT / "tests" / "scenarios" / "seed001-memory-demo-oom"
SECRET, TOKEN = "burst-secret", "ghp_bursttoken0000000000000000000000000000"


def port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main(one_repo: bool) -> None:
    names = [f"shop-{i:02d}" for i in range(APPS)]
    with tempfile.TemporaryDirectory() as tmp_s, FakeGitHub(token=TOKEN) as gh:
        tmp = Path(tmp_s)
        mono: Path | None = None
        if one_repo:
            _, mono = make_monorepo(tmp, names)
            (tmp / "remotes").mkdir()
        for n in [] if one_repo else names:
            dst = tmp / "snapshots" / n
            shutil.copytree(SCENARIO / "cluster", dst)
            f = dst / "argocd" / "application.yaml"
            docs = list(yaml.safe_load_all(f.read_text()))
            docs[0]["metadata"]["name"] = n
            f.write_text(yaml.safe_dump_all(docs))
            example_remote(SCENARIO / "repo", tmp / "remotes" / f"{n}.git")
        p_ = port()
        env = {**os.environ, "REMEDIATOR_WEBHOOK_SECRET": SECRET, "GITHUB_TOKEN": TOKEN}
        cmd = [
            sys.executable, "-m", "remediator", "serve", "--host", "127.0.0.1", "--port", str(p_),
            "--journal", str(tmp / "journal.sqlite"), "--snapshots", str(tmp / "snapshots"),
            "--remotes", str(tmp / "remotes"), "--github-url", gh.url, "--github-repo", "acme/deploy",
            "--cache-dir", str(tmp / "cache"), "--settle", "2", "--workers", "4", "--log-level", "WARNING",
        ]  # fmt: skip
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{p_}"
        for _ in range(400):
            try:
                if httpx.get(base + "/healthz", timeout=0.5).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        rng = random.Random(11)
        plan = [
            (names[i % APPS], rng.choice(["Degraded", "Degraded", "Degraded", "Progressing", "Healthy"]))
            for i in range(REQUESTS)
        ]
        rng.shuffle(plan)
        degraded_apps = {a for a, h in plan if h == "Degraded"}
        lat: list[float] = []
        codes: Counter[int] = Counter()
        lock = threading.Lock()

        def send(chunk: list[tuple[str, str]]) -> None:
            with httpx.Client(base_url=base, headers={"X-Remediator-Token": SECRET}) as c:
                for app, health in chunk:
                    body = {"app": app, "health": health, "sync": "Synced", "revision": "a1b2c3d",
                            "source": {"repoURL": "https://github.com/acme/deploy.git", "path": "deploy/memory-demo"}}  # fmt: skip
                    t = time.perf_counter()
                    r = c.post("/v1/hooks/argocd", json=body)
                    dt = (time.perf_counter() - t) * 1000
                    with lock:
                        lat.append(dt)
                        codes[r.status_code] += 1

        with httpx.Client(base_url=base) as c:
            baseline = []
            for _ in range(200):
                t = time.perf_counter()
                c.get("/healthz")
                baseline.append((time.perf_counter() - t) * 1000)
        start = time.perf_counter()
        threads = [threading.Thread(target=send, args=(plan[i::SENDERS],)) for i in range(SENDERS)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        sent_s = time.perf_counter() - start
        journal = Journal(tmp / "journal.sqlite")
        deadline = time.time() + 300
        while time.time() < deadline:
            rows = journal.all()
            if rows and all(r.state not in ("queued", "running") for r in rows):
                break
            time.sleep(0.2)
        drain = time.perf_counter() - start
        rows = journal.all()
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        per_app = Counter(pr["head"].split("/")[1] for pr in gh.repo.pulls)
        prs = len(gh.repo.pulls)
        duplicates = sum(n - 1 for n in per_app.values() if n > 1)
        done_apps = {r.app for r in rows if r.state == "done"}
        lost = len(degraded_apps - set(per_app)) + len(degraded_apps - done_apps)
        failed = [(r.app, r.message) for r in rows if r.state == "failed"]
        wrong = []
        for pr in gh.repo.pulls:
            app = pr["head"].split("/")[1]
            remote = mono or tmp / "remotes" / f"{app}.git"
            path = f"deploy/{app}/deployment.yaml" if mono else "deploy/memory-demo/deployment.yaml"
            if branch_changes(remote, pr["head"]) != (1, [path]):
                wrong.append(pr["head"])
    lat.sort()
    a50, a99 = statistics.median(lat), lat[int(len(lat) * 0.99) - 1]
    b50 = statistics.median(baseline)
    print(
        f"sent {REQUESTS} notifications for {APPS} apps in {sent_s:.1f}s with {SENDERS} senders; answers {dict(codes)}"
    )
    print(f"accept p50 {a50:.1f} ms, p99 {a99:.1f} ms (target < 50 ms); GET /healthz baseline p50 {b50:.1f} ms")
    print(f"{'one repository for all apps' if one_repo else 'one repository per app'}")
    print(f"incidents journaled {len(rows)}, PRs {prs}, duplicates {duplicates}, lost {lost}; drained in {drain:.1f}s")
    print(f"failed runs {len(failed)}{' e.g. ' + str(failed[0]) if failed else ''}; wrong branches {len(wrong)}")
    print(
        json.dumps(
            {
                "requests": REQUESTS,
                "apps": APPS,
                "one_repo": one_repo,
                "accepted": codes[202],
                "prs": prs,
                "duplicates": duplicates,
                "lost": lost,
                "failed_runs": len(failed),
                "wrong_branches": len(wrong),
                "accept_p50_ms": round(a50, 2),
                "accept_p99_ms": round(a99, 2),
                "baseline_p50_ms": round(b50, 2),
                "drain_s": round(drain, 1),
            }
        )
    )
    if duplicates or lost or failed or wrong or codes[202] != REQUESTS:
        sys.exit(1)


if __name__ == "__main__":
    main(one_repo="--one-repo" in sys.argv[1:])
