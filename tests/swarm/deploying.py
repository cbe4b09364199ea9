"""Deploying the farm's layers on the swarm lab through the DeployAction (shared by the
e2e, the site and the Galera tests)."""

from __future__ import annotations

from wpfarm_tui.actions import AuditLog, StepEvent, Verdict, execute
from wpfarm_tui.stacks.deploy import DeployAction


def deploy_layers(swarm_farm, tmp_path, *layers: str, dry_run: bool = False):
    action = DeployAction(swarm_farm.farm, swarm_farm.render_dir, layers,
                          override_dirs=swarm_farm.override_dirs, timeout=300)
    items = list(execute(action, audit=AuditLog(tmp_path / "audit.log"), dry_run=dry_run))
    return action, items


def verdict_of(items) -> Verdict:
    v = [i for i in items if isinstance(i, Verdict)]
    assert v, [i for i in items if isinstance(i, StepEvent) and i.kind == "failed"]
    return v[0]
