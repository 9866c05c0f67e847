"""missing-configmap / missing-secret: fix the reference when it is the reference that is wrong, or add
a missing ConfigMap key whose value the evidence already holds.

Three cases, decided from the kubelet's messages (``configmap "app-confg" not found``, ``couldn't find
key DB_HOST in ConfigMap shop/app-config``) and the objects that exist:

* **name**: an existing object of the same kind with a near name (one or two edits, or a prefix or
  suffix segment added or dropped) holds the keys the pods read -> every reference of the workload's
  pod template to the missing name (volumes, projected volumes, ``envFrom``, ``env[].valueFrom``) is set
  to that name;
* **key**: the object exists and one of its keys is near the missing key -> the references that read
  the missing key read that key;
* **add**: a ConfigMap the app declares lacks the key and exactly one value for it is known elsewhere in
  the app (the same key in another ConfigMap of the app, an env var of that name with a literal value in
  one of the app's workloads) -> the key is added with that value.

Everything else is reported: a Secret's values are never guessed, and a Secret made by an
ExternalSecret, a SealedSecret, cert-manager or an operator is fixed where it is made (out of band).
"""

from __future__ import annotations

from remediator.evidence.references import Site, object_keys, out_of_band, sites
from remediator.evidence.relations import dig, env_values, pod_template
from remediator.evidence.store import WORKLOAD_KINDS
from remediator.model import Category, Finding, ObjectRef
from remediator.remedies.base import Change, Check, Context, Proposal, Refusal, Remedy, SetField, pod_spec_path

RULE = "config-ref"


def _ref(f: Finding) -> ObjectRef:
    r = f.details.get("ref")
    if isinstance(r, dict):
        return ObjectRef(str(r.get("kind")), str(r.get("namespace") or ""), str(r.get("name")))
    return f.culprit


def _workloads(f: Finding) -> list[ObjectRef]:
    out = []
    for w in f.details.get("workloads") or []:
        if isinstance(w, dict):
            out.append(ObjectRef(str(w.get("kind")), str(w.get("namespace") or ""), str(w.get("name"))))
    return out or ([f.culprit] if f.culprit.kind not in ("ConfigMap", "Secret") else [])


def _sites(ctx: Context, wl: ObjectRef, ref: ObjectRef) -> list[Site] | Refusal:
    """The references to ``ref`` in the pod template of ``wl`` as Git declares it (as the cluster runs
    it when Git's objects are not resolved, e.g. a Helm chart's: the edit then finds the value's source)."""
    obj = ctx.obj(wl)
    if obj is None:
        return Refusal("", f"{wl} is neither in the app's source nor in the cluster", RULE)
    base = pod_spec_path(obj)
    spec = dig(obj, *[b for b in base if isinstance(b, str)])
    found = [
        s for s in sites(spec if isinstance(spec, dict) else {}, base) if s.kind == ref.kind and s.name == ref.name
    ]
    if not found:
        return Refusal(
            "", f"{wl} in Git does not reference {ref}: the cluster runs another version (sync the app first)", RULE
        )
    return found


def _rename(f: Finding, ctx: Context, ref: ObjectRef, near: str) -> Proposal | Refusal:
    cat = f.category.value
    if ctx.ev.get(ref.kind, ref.namespace, near) is None:
        return Refusal(cat, f"{ref.kind} {ref.namespace}/{near} is not in the cluster", RULE)
    changes: list[Change] = []
    checks: list[Check] = []
    keys: set[str] = set()
    wls = _workloads(f)
    for wl in wls:
        found = _sites(ctx, wl, ref)
        if isinstance(found, Refusal):
            return Refusal(cat, found.reason, found.rule)
        for s in found:
            # Objects Git declares get each reference set; a chart's objects (not resolved here) render
            # every reference from one value: set it once, check every reference.
            if ctx.desired_obj(wl) is not None or not any(isinstance(c, SetField) and c.target == wl for c in changes):
                changes.append(SetField(wl, s.path, near, current=ref.name, role="config-ref"))
            checks.append(Check(wl, s.path, near))
            keys |= {s.key} if s.key else set()
    have = object_keys(ctx.ev, ref.kind, ref.namespace, near)
    holds = (
        f"holds the key(s) {', '.join(sorted(keys))} they read"
        if keys and have is not None
        else "is read whole"
        if not keys
        else "is a Secret whose keys are not collected; the pods will say if one is missing"
    )
    return Proposal(
        remedy=RULE,
        reason=(
            f"{ref} does not exist, while {ref.kind} {near}, a near name, exists and {holds}: the reference of "
            f"{', '.join(str(w) for w in wls)} is mistyped; it now names {near}"
        ),
        changes=changes,
        risk=f"The pods read {ref.kind} {near} from now on; if {ref.name} was meant to be a different object, create it instead.",
        checks=checks,
    )


def _rekey(f: Finding, ctx: Context, ref: ObjectRef, key: str, near_key: str) -> Proposal | Refusal:
    cat = f.category.value
    have = object_keys(ctx.ev, ref.kind, ref.namespace, ref.name) or set()
    if near_key not in have or key in have:
        return Refusal(cat, f"{ref} does not hold {near_key!r} without {key!r}", RULE)
    changes: list[Change] = []
    checks: list[Check] = []
    wls = _workloads(f)
    for wl in wls:
        found = _sites(ctx, wl, ref)
        if isinstance(found, Refusal):
            return Refusal(cat, found.reason, found.rule)
        for s in found:
            if s.key == key and s.key_path is not None:
                path = s.key_path
                # items[key=K].key: the item is selected by its key, found by the new key afterwards
                after = (*path[:-2], {"key": near_key}, "key") if isinstance(path[-2], dict) else path
                if ctx.desired_obj(wl) is not None or not any(
                    isinstance(c, SetField) and c.target == wl for c in changes
                ):
                    changes.append(SetField(wl, path, near_key, current=key, role="config-key"))
                checks.append(Check(wl, after, near_key))
    if not changes:
        return Refusal(cat, f"no reference in Git reads key {key!r} of {ref}", RULE)
    return Proposal(
        remedy=RULE,
        reason=(
            f"{ref} has no key {key!r} but has {near_key!r}, a near name: the key in the reference of "
            f"{', '.join(str(w) for w in wls)} is mistyped; it now reads {near_key!r}"
        ),
        changes=changes,
        risk=f"The pods read {ref.name}/{near_key}; if {key!r} was meant to be a new key, add it to {ref} instead.",
        checks=checks,
    )


def _known_values(ctx: Context, ref: ObjectRef, key: str, wls: list[ObjectRef]) -> dict[str, list[str]]:
    """Values for ``key`` elsewhere in the app: the same key in another ConfigMap, an env literal."""
    out: dict[str, list[str]] = {}
    declared = [o for o in ctx.desired if dig(o, "metadata", "namespace") in (None, "", ref.namespace)]
    for o in declared:
        name = str(dig(o, "metadata", "name"))
        if o.get("kind") == "ConfigMap" and name != ref.name:
            v = (o.get("data") or {}).get(key) if isinstance(o.get("data"), dict) else None
            if isinstance(v, str | int | float | bool):
                out.setdefault(str(v), []).append(f"ConfigMap {name}")
        if o.get("kind") in WORKLOAD_KINDS:
            spec = pod_template(o)
            for c in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
                if isinstance(c, dict):
                    for n, v in env_values(c):
                        if n == key:
                            out.setdefault(v, []).append(f"{o.get('kind')} {name} container {c.get('name')} env")
    return out


def _add_key(f: Finding, ctx: Context, ref: ObjectRef, key: str) -> Proposal | Refusal:
    cat = f.category.value
    if ctx.desired_obj(ref) is None:
        return Refusal(
            cat,
            f"{ref} is not declared in the app's source and has no key near {key!r}: add {key} where it is made, "
            "or correct the key in the reference",
            RULE,
        )
    values = _known_values(ctx, ref, key, _workloads(f))
    if not values:
        return Refusal(
            cat,
            f"{ref} lacks {key} and no other ConfigMap or env of the app holds a value for it: the value the app "
            f"needs decides (add {key} to {ref.name})",
            RULE,
        )
    if len(values) > 1:
        seen = "; ".join(f"{v!r} ({', '.join(w)})" for v, w in sorted(values.items()))
        return Refusal(cat, f"{ref} lacks {key} and the app holds several values for it: {seen}; a person picks", RULE)
    (value, where), *_ = values.items()
    path = ("data", key)
    return Proposal(
        remedy=RULE,
        reason=(
            f"{ref}, declared in the app's source, lacks the key {key} that the pods read; the app already sets "
            f"{key}={value!r} ({', '.join(where)}), so the key is added with that value"
        ),
        changes=[SetField(ref, path, value, role="configmap-data")],
        risk=f"The pods read {key}={value!r}; check it is the value meant for this workload.",
        checks=[Check(ref, path, value)],
    )


def plan(f: Finding, ctx: Context) -> Proposal | Refusal:
    cat = f.category.value
    ref = _ref(f)
    key = f.details.get("key")
    near = f.details.get("near")
    near_key = f.details.get("near_key")
    if isinstance(near, str) and near:
        return _rename(f, ctx, ref, near)
    if isinstance(key, str) and isinstance(near_key, str) and near_key:
        return _rekey(f, ctx, ref, key, near_key)
    if ref.kind == "Secret":
        made = out_of_band(ctx.ev, ref.namespace, ref.name)
        if made:
            return Refusal(cat, f"no Git fix here: {made}; fix {ref} where it is made", "out-of-band")
        what = f"key {key!r} of {ref}" if key else str(ref)
        return Refusal(
            cat,
            f"{what} is missing and no Secret or key is near its name: Secret values are never guessed; create "
            "it (or its key) from the secret store, or correct the reference",
            RULE,
        )
    if isinstance(key, str) and key:
        return _add_key(f, ctx, ref, key)
    return Refusal(
        cat,
        f"{ref} does not exist and no ConfigMap in {ref.namespace} has a near name with the keys the pods read: "
        "its content is not in the evidence; add it to the app's source or correct the reference",
        RULE,
    )


REMEDY = Remedy(
    RULE,
    (Category.MISSING_CONFIGMAP.value, Category.MISSING_SECRET.value),
    plan,
    "fix a ConfigMap/Secret reference (name or key) to a near one that exists; add a ConfigMap key the app already sets",
)
