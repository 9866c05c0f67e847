"""Generalisation fixes: kustomize component order, StatefulSet claim templates."""

from __future__ import annotations

from pathlib import Path

from remediator.edits.index import SourceIndex


def _write(root: Path, rel: str, text: str) -> None:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text, encoding="utf-8")


def test_overlay_patch_applies_after_component_patch(tmp_path: Path) -> None:
    """kustomize runs a component's patches before the kustomization's own: the overlay's value wins."""
    _write(tmp_path, "base/kustomization.yaml", "resources: [cm.yaml]\n")
    _write(tmp_path, "base/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata: {mode: base}\n")
    _write(
        tmp_path,
        "comp/kustomization.yaml",
        "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\npatches:\n  - path: p.yaml\n",
    )
    _write(tmp_path, "comp/p.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata: {mode: component}\n")
    _write(
        tmp_path,
        "env/kustomization.yaml",
        "resources: [../base]\ncomponents: [../comp]\npatches:\n  - path: p.yaml\n",
    )
    _write(tmp_path, "env/p.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata: {mode: overlay}\n")
    src = SourceIndex(tmp_path).source("env", "ns", None, "")
    (cm,) = [o.data for o in src.objects if o.ref.kind == "ConfigMap"]
    assert cm["data"]["mode"] == "overlay"
