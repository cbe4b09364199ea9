"""The console's screens."""

from wpfarm_tui.screens.help import HelpScreen

__all__ = ["HelpScreen"]
