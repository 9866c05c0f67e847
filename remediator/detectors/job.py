"""job-failed: a Job reached its backoff limit or deadline."""

from __future__ import annotations

from remediator.detectors.base import Detector, event_line, events_of, finding, last_lines, status_line
from remediator.evidence.relations import condition, containers, labels, owner_refs, pod_template, workload_of
from remediator.evidence.store import Evidence, ref_of
from remediator.model import Category, EvidenceLine, Finding


def detect(ev: Evidence) -> list[Finding]:
    out = []
    for job in ev.scoped("Job"):
        failed = condition(job, "Failed")
        if not failed or failed.get("status") != "True":
            continue
        ref = ref_of(job)
        owner = workload_of(ev, job)
        pods = [
            p for p in ev.all("Pod", ref.namespace) if ref in owner_refs(p) or labels(p).get("job-name") == ref.name
        ]
        lines: list[EvidenceLine] = [
            status_line(job, "status.conditions[Failed]", f"{failed.get('reason')}: {failed.get('message', '')}")
        ]
        lines += [event_line(e) for e in events_of(ev, job) if e.type != "Normal"][-2:]
        names = [str(c.get("name")) for c in containers(pod_template(job), init=False)]
        for p in pods[-1:]:
            for n in names[:1]:
                lines += last_lines(ev, p, n, 3)
        reason = str(failed.get("reason") or "Failed")
        out.append(
            finding(
                Category.JOB_FAILED,
                owner,
                f"{ref} failed: {reason} ({failed.get('message', '')})",
                confidence=0.85,
                chain=(
                    *([f"{owner} run failed"] if owner != ref else []),
                    f"Job {ref.name} {reason}",
                    f"{len(pods)} pod(s) failed" if pods else "pods failed",
                ),
                evidence=lines,
                detector="job",
                affects={ref, owner, *(ref_of(p) for p in pods)},
                details={"reason": reason},
            )
        )
    return out


DETECTOR = Detector("job", (Category.JOB_FAILED,), detect, "Jobs with condition Failed")
