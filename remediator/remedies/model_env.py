"""model-not-found: set the env var that holds the missing model (found by value), or the ConfigMap key it
is read from, to a model the server lists, preferring the policy's order; never a name the server did not list."""

from __future__ import annotations

from os.path import commonpath

from remediator.model import Category, Finding, ObjectRef
from remediator.remedies.base import Check, Context, Proposal, Refusal, Remedy, SetField, container_of, container_path


def choose(missing: str, available: list[str], preferred: list[str]) -> str | None:
    for p in preferred:
        if p in available:
            return p
    family = missing.split(":")[0]
    same = [m for m in available if m.split(":")[0] == family]
    if same:
        return same[0]
    if available:
        # the closest name by common prefix; ties keep the server's order
        return max(available, key=lambda m: len(commonpath([m, missing])))
    return None


def plan(f: Finding, ctx: Context) -> Proposal | Refusal:
    cat = f.category.value
    d = f.details
    missing = str(d.get("model") or "")
    available = [str(m) for m in d.get("available") or []]
    cname, env = d.get("container"), d.get("env")
    if not cname or not env:
        return Refusal(
            cat, f"no env var of {f.culprit} holds the model {missing!r}; the model is set elsewhere", "model-env"
        )
    if not available:
        return Refusal(
            cat,
            "the model server's list of models is unknown (server unreachable or not probed); not guessing a model",
            "model-env",
        )
    new = choose(missing, available, ctx.policy.models.preferred)
    if new is None or new not in available:
        return Refusal(cat, "no model the server lists fits", "models.preferred")
    why = (
        "the first of the policy's preferred models the server lists"
        if new in ctx.policy.models.preferred
        else ("the server's model closest to the missing one (no preferred model listed)")
    )
    if d.get("configmap") and d.get("configmap_key"):
        cm = ObjectRef("ConfigMap", f.culprit.namespace, str(d["configmap"]))
        key = str(d["configmap_key"])
        cm_path = ("data", key)
        return Proposal(
            remedy="model-env",
            reason=(
                f"{f.culprit} asks the model server for {missing!r} through env {env}, read from key {key} of "
                f"ConfigMap {cm.name}, and the server answers 404: it serves {', '.join(available)}. "
                f"{new!r} is {why}."
            ),
            changes=[SetField(cm, cm_path, new, current=missing, role="configmap-value")],
            checks=[Check(cm, cm_path, new)],
            risk=f"The app answers with model {new} instead of {missing}: quality and latency may differ; pods "
            f"read env from a ConfigMap only at start, so they must restart. Alternatively pull {missing} on the "
            f"server (`ollama pull {missing}`) and close this PR.",
        )
    obj = ctx.desired_obj(f.culprit) or ctx.obj(f.culprit)
    c = container_of(obj, str(cname))
    entry = next((e for e in c.get("env") or [] if isinstance(e, dict) and e.get("name") == env), None)
    if entry is not None and "value" not in entry:
        return Refusal(
            cat, f"env {env} of {f.culprit} comes from valueFrom (a ConfigMap or Secret); edit that", "model-env"
        )
    path = (*container_path(obj, str(cname)), "env", {"name": str(env)}, "value")
    return Proposal(
        remedy="model-env",
        reason=(
            f"{f.culprit} asks the model server for {missing!r} through env {env}, and the server answers 404: "
            f"it serves {', '.join(available)}. {new!r} is {why}."
        ),
        changes=[SetField(f.culprit, path, new, current=missing, role="env-value")],
        checks=[Check(f.culprit, path, new)],
        risk=f"The app answers with model {new} instead of {missing}: quality and latency may differ. "
        f"Alternatively pull {missing} on the server (`ollama pull {missing}`) and close this PR.",
    )


REMEDY = Remedy("model-env", (Category.MODEL_NOT_FOUND.value,), plan, "point a model env var at a served model")
