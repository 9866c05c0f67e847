"""Reviewing a large pull request: a 20,000-file manifests repository (plain folders and Kustomize
apps, as in source_map_scale) in git, and a PR that touches 200 files (some introducing faults).
Times `changed_lines` + every check with the whole repository as context.

Prints the figures; the last line is JSON: {"files_changed", "repo_files", "seconds", "comments",
"parse_s", "ratio"}. ``parse_s`` is the baseline measured in the same run: parsing every YAML file
once with libyaml's C loader. Target: under 10 s.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from source_map_scale import generate  # noqa: E402

from remediator.policy import Policy  # noqa: E402
from remediator.review.run import changed_lines, run_review  # noqa: E402


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=b", "-c", "user.email=b@e", *args], check=True, capture_output=True
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "repo"
        _, files = generate(repo)
        git(repo, "init", "-q", "-b", "main")
        git(repo, "add", "-A")
        git(repo, "commit", "-qm", "base")
        all_yaml = sorted(p for p in repo.rglob("*.yaml") if p.name != "kustomization.yaml")
        rng = random.Random(5)
        touched = rng.sample(all_yaml, 200)
        for n, p in enumerate(touched):
            text = p.read_text()
            if n % 10 == 0:
                text = text.replace("memory: 256Mi", "memory: 16Mi")  # below the minimum
            elif n % 10 == 1:
                text = text.replace(":1.0.", ":latest-1.0.").replace(
                    "image: registry.example.org/", "image: docker.io/"
                )
                text = text.replace(":latest-1.0.", ":latest#")
                text = text.replace(":latest#", ":latest\n        # was 1.0.")
            else:
                text = text.replace("value: info", "value: debug")
            if text == p.read_text():
                text += "# touched by the PR\n"
            p.write_text(text)
        git(repo, "commit", "-qam", "the PR")
        t = time.perf_counter()
        for p in repo.rglob("*.yaml"):
            list(yaml.load_all(p.read_text(), Loader=yaml.CSafeLoader))
        parse_s = time.perf_counter() - t
        t = time.perf_counter()
        changed = changed_lines(repo, "HEAD~1", "HEAD")
        res = run_review(repo, Policy(), changed)
        seconds = time.perf_counter() - t
        comments = len(res.on_changed_lines())
    print(
        f"{files} files, {len(changed)} changed; review {seconds:.2f}s (parse baseline {parse_s:.2f}s, ratio {seconds / parse_s:.2f}); {len(res.issues)} issues, {comments} on changed lines"
    )
    print(
        json.dumps(
            {
                "files_changed": len(changed),
                "repo_files": files,
                "seconds": round(seconds, 2),
                "comments": comments,
                "parse_s": round(parse_s, 2),
                "ratio": round(seconds / parse_s, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
