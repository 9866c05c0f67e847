"""log-filter: a log pipeline drops the lines it should forward (e.g. a Fluentd/Fluent Bit grep filter too strict)."""

from __future__ import annotations

import re

from remediator.detectors.base import Detector, finding, spec_line
from remediator.evidence.store import Evidence, ref_of
from remediator.model import Category, Finding

# Fluentd: <filter ...> @type grep <regexp> key log pattern /error|fail/ </regexp>
FLUENTD_GREP = re.compile(r"<filter\s+(?P<tag>[^>]*)>\s*@type\s+grep(?P<body>.*?)</filter>", re.S | re.I)
FLUENTD_KEEP = re.compile(r"<regexp>\s*key\s+(?P<key>\S+)\s+pattern\s+(?P<pattern>.+?)\s*</regexp>", re.S | re.I)
# Fluent Bit: [FILTER] Name grep ... Regex <key> <pattern>
FLUENTBIT_GREP = re.compile(r"\[FILTER\](?P<body>(?:(?!\[)[\s\S])*?\bName\s+grep\b(?:(?!\[)[\s\S])*)", re.I)
FLUENTBIT_KEEP = re.compile(r"^\s*Regex\s+(?P<key>\S+)\s+(?P<pattern>.+)$", re.M | re.I)
OUTPUT = re.compile(r"@type\s+(?:http|forward|elasticsearch|opensearch|loki|kafka\w*)|\[OUTPUT\]", re.I)
SEVERITY = re.compile(r"error|exception|fail|fatal|warn|crit|panic|degraded", re.I)


def keep_only_severity(pattern: str) -> bool:
    """A keep-pattern that is an alternation of severity words drops every ordinary line."""
    words = [w for w in re.split(r"[|()/^$\\s*.?]+", pattern.strip().strip("/")) if w]
    return bool(words) and sum(bool(SEVERITY.search(w)) for w in words) >= max(1, len(words) - 1)


def detect(ev: Evidence) -> list[Finding]:
    out = []
    for cm in ev.scoped("ConfigMap"):
        data = cm.get("data") or {}
        if not isinstance(data, dict):
            continue
        for key, text in data.items():
            if not isinstance(text, str) or not OUTPUT.search(text):
                continue
            found = []
            for m in FLUENTD_GREP.finditer(text):
                for k in FLUENTD_KEEP.finditer(m.group("body")):
                    if keep_only_severity(k.group("pattern")):
                        found.append((k.group("key"), k.group("pattern").strip(), "fluentd"))
            for m in FLUENTBIT_GREP.finditer(text):
                for k in FLUENTBIT_KEEP.finditer(m.group("body")):
                    if keep_only_severity(k.group("pattern")):
                        found.append((k.group("key"), k.group("pattern").strip(), "fluent-bit"))
            if not found:
                continue
            fkey, pattern, flavour = found[0]
            ref = ref_of(cm)
            out.append(
                finding(
                    Category.LOG_FILTER,
                    ref,
                    f"{flavour} grep filter in {ref} keeps only lines whose {fkey} matches {pattern}: "
                    "lifecycle and ordinary lines are dropped before they are forwarded",
                    confidence=0.55,
                    chain=(
                        "the log receiver gets nothing for ordinary events (pod deleted, killing, terminating)",
                        f"{flavour} drops them",
                        f"grep filter keeps only {pattern}",
                    ),
                    evidence=[spec_line(cm, f"data.{key}", f"grep keep {fkey} {pattern}")],
                    detector="log_filter",
                    affects={ref},
                    details={"data_key": key, "filter_key": fkey, "pattern": pattern, "flavour": flavour},
                )
            )
    return out


DETECTOR = Detector("log_filter", (Category.LOG_FILTER,), detect, "grep filters that keep only severity words")
