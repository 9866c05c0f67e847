"""The model behind one small interface: the official ``openai`` client against any OpenAI-compatible
server, with a token budget, usage accounting and a JSON-answer fallback for models without tools."""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass, field
from typing import Any

from remediator.errors import RemediatorError, TemporaryError
from remediator.policy import ModelAssist


class ModelError(TemporaryError):
    """The model did not answer usefully (down, timeout, 429/5xx after retries, malformed output)."""


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    calls: int = 0
    model_seconds: float = 0.0

    @property
    def total(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass
class Reply:
    content: str
    tool_calls: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)  # (id, name, arguments)


class LLM:
    def __init__(self, cfg: ModelAssist, max_retries: int = 2) -> None:
        if not cfg.enabled:
            raise RemediatorError("no model configured (model.base_url and model.model in the policy)")
        from openai import OpenAI

        self.cfg = cfg
        self.usage = Usage()
        key = os.environ.get(cfg.api_key_env) or "not-needed"
        self.client = OpenAI(base_url=cfg.base_url, api_key=key, timeout=cfg.timeout_seconds, max_retries=max_retries)
        self.tools_supported: bool | None = None

    def _call(self, **kw: Any) -> Any:
        import openai

        if self.usage.total >= self.cfg.max_tokens:
            raise ModelError(f"token budget of {self.cfg.max_tokens} spent")
        t = time.perf_counter()
        try:
            resp = self.client.chat.completions.create(model=str(self.cfg.model), **kw)
        except openai.APIStatusError as e:
            raise ModelError(f"model server answered {e.status_code}: {str(e.message)[:200]}") from e
        except (openai.APITimeoutError, openai.APIConnectionError) as e:
            raise ModelError(f"model server unreachable: {type(e).__name__}") from e
        except openai.OpenAIError as e:
            raise ModelError(f"model error: {type(e).__name__}: {str(e)[:200]}") from e
        finally:
            self.usage.model_seconds += time.perf_counter() - t
        self.usage.calls += 1
        u = getattr(resp, "usage", None)
        if u is not None:
            self.usage.prompt_tokens += int(getattr(u, "prompt_tokens", 0) or 0)
            self.usage.completion_tokens += int(getattr(u, "completion_tokens", 0) or 0)
        return resp

    def chat(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None, max_tokens: int = 1200
    ) -> Reply:
        """One turn. With tools on a model that lacks tool calling, the tools are described in the
        prompt and the model answers ``{"tool": name, "arguments": {...}}`` as JSON instead."""
        if tools and self.tools_supported is False:
            return self._json_turn(messages, tools, max_tokens)
        kw: dict[str, Any] = {"messages": messages, "max_tokens": max_tokens, "temperature": 0}
        if tools:
            kw["tools"] = tools
        try:
            resp = self._call(**kw)
        except ModelError as e:
            if tools and "tool" in str(e).lower() and self.tools_supported is None:
                self.tools_supported = False
                return self._json_turn(messages, tools, max_tokens)
            raise
        if not getattr(resp, "choices", None):
            raise ModelError("the model returned no choices")
        msg = resp.choices[0].message
        calls = []
        for tc in getattr(msg, "tool_calls", None) or []:
            try:
                args = json.loads(tc.function.arguments or "{}")
            except ValueError:
                args = {"_malformed": tc.function.arguments}
            calls.append((tc.id, tc.function.name, args if isinstance(args, dict) else {"_malformed": args}))
        if tools and calls:
            self.tools_supported = True
        return Reply(msg.content or "", calls)

    def _json_turn(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]], max_tokens: int) -> Reply:
        spec = [{"name": t["function"]["name"], "parameters": t["function"]["parameters"]} for t in tools]
        guide = (
            "You cannot call tools directly. To use one, answer ONLY with a JSON object "
            '{"tool": NAME, "arguments": {...}} for one of these tools: ' + json.dumps(spec)
        )
        resp = self._call(
            messages=[*messages, {"role": "system", "content": guide}], max_tokens=max_tokens, temperature=0
        )
        text = resp.choices[0].message.content or ""
        m = re.search(r"\{.*\}", text, re.S)
        if not m:
            return Reply(text, [])
        try:
            data = json.loads(m.group(0))
        except ValueError:
            return Reply(text, [])
        if isinstance(data, dict) and isinstance(data.get("tool"), str):
            args = data.get("arguments")
            return Reply("", [(f"json-{self.usage.calls}", data["tool"], args if isinstance(args, dict) else {})])
        return Reply(text, [])

    def check(self) -> dict[str, Any]:
        """For ``remediator doctor``: does the model answer, and does it call tools?"""
        out: dict[str, Any] = {"base_url": self.cfg.base_url, "model": self.cfg.model}
        try:
            listed = [m.id for m in self.client.models.list()]
            out["listed"] = self.cfg.model in listed
        except Exception as e:  # some servers have no /models
            out["listed"] = f"unknown ({type(e).__name__})"
        try:
            r = self.chat([{"role": "user", "content": "Answer with the single word: ok"}], max_tokens=5)
            out["answers"] = bool(r.content.strip())
        except ModelError as e:
            out["answers"] = False
            out["error"] = str(e)
            return out
        probe = [
            {
                "type": "function",
                "function": {
                    "name": "ping",
                    "description": "Call this tool.",
                    "parameters": {"type": "object", "properties": {}},
                },
            }
        ]
        try:
            r = self.chat([{"role": "user", "content": "Call the ping tool now."}], tools=probe, max_tokens=50)
            out["tool_calls"] = any(name == "ping" for _, name, _ in r.tool_calls) and self.tools_supported is not False
        except ModelError:
            out["tool_calls"] = False
        return out
