"""Scripted investigations against the fake OpenAI-compatible server: what our side of the loop
costs (tool execution, redaction, validation, HTTP) per step, excluding the model's own time.

Prints one line per investigation (tokens in/out, tool calls, wall time) and, last, JSON:
{"investigations", "tool_calls_p50", "tokens_p50", "overhead_ms_p50", "wall_ms_p50"}.
The baseline for ``overhead_ms_p50`` is the time the client spent waiting on the server (the
"model"), measured in the same run and subtracted.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from remediator.assist.investigate import investigate  # noqa: E402
from remediator.diagnose import diagnose  # noqa: E402
from remediator.eval import load_scenario  # noqa: E402
from remediator.policy import ModelAssist  # noqa: E402
from tests.fakes.openai_api import FakeOpenAI, Step, call  # noqa: E402

FIXTURE = ROOT / "tests" / "fixtures" / "investigate" / "license-expired"
LINE = "2026-11-21T03:00:00.401Z WARN  license check: license key MYSTERY_LICENSE expired on 2026-11-01; serving disabled until a valid key is set"
RUNS = 20


def script(extra: int) -> list[Step]:
    steps: list[Step] = [call("resource_tree"), call("get_object", kind="Deployment", namespace="misc", name="mystery")]
    steps += [call("list_events", kind="Pod", namespace="misc", name="mystery-6d4cf56db6-m0m0m")] * extra
    steps += [
        call("read_log", namespace="misc", pod="mystery-6d4cf56db6-m0m0m", container="mystery"),
        call(
            "report_finding",
            category="config-error",
            culprit={"kind": "Deployment", "namespace": "misc", "name": "mystery"},
            summary="license expired",
            chain=["not ready", "license expired"],
            evidence=[LINE],
        ),
    ]
    return steps


def main() -> None:
    ev, truth = load_scenario(FIXTURE)
    d = diagnose(ev, truth["app"])
    calls, tokens, overhead, walls = [], [], [], []
    for i in range(RUNS):
        with FakeOpenAI(script(i % 4)) as api:
            cfg = ModelAssist(base_url=api.url, model="qwen3:4b", max_steps=10)
            inv = investigate(ev, d, cfg)
        assert inv.finding is not None, inv.rejected
        steps = inv.usage.calls
        calls.append(inv.tool_calls)
        tokens.append(inv.usage.total)
        overhead.append(inv.overhead_seconds / steps * 1000)
        walls.append(inv.wall_seconds * 1000)
        print(
            f"investigation {i + 1}: {inv.finding.category.value}; {inv.tool_calls} tool calls, {inv.usage.prompt_tokens} tokens in / "
            f"{inv.usage.completion_tokens} out, wall {inv.wall_seconds * 1000:.0f} ms (model {inv.usage.model_seconds * 1000:.0f} ms)"
        )
    print(
        json.dumps(
            {
                "investigations": RUNS,
                "tool_calls_p50": statistics.median(calls),
                "tokens_p50": statistics.median(tokens),
                "overhead_ms_p50": round(statistics.median(overhead), 2),
                "wall_ms_p50": round(statistics.median(walls), 1),
            }
        )
    )


if __name__ == "__main__":
    main()
