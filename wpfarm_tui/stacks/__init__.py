"""The farm's definition: Swarm stack files, configs and image sources rendered from
the inventory (see render.render_farm)."""

from wpfarm_tui.stacks.render import StackError, check_ha, render_farm
from wpfarm_tui.stacks.versions import DEFAULT_VERSIONS, resolve_versions

__all__ = ["DEFAULT_VERSIONS", "StackError", "check_ha", "render_farm", "resolve_versions"]
