"""The console's keys, written once: the help screen (`?`) and README's keys table both come
from KEYS, and tests/ui/test_keys.py checks that every binding of the console, its panes and
its tables is in it (and that README shows this table), so the three cannot drift apart.

`python -m wpfarm_tui.keys` prints the Markdown table for README.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Key:
    label: str  # as shown: "1 – 6", "b / u"
    what: str  # "{panes}" is replaced by the panes this farm has
    bindings: tuple[str, ...] = ()  # the Textual key names it documents


KEYS: tuple[Key, ...] = (
    Key("1 – 6, 8, 9", "go to a pane: {panes}", ("1", "2", "3", "4", "5", "6", "8", "9")),
    Key("7", "Alerts: everything past a threshold; Enter runs the fitting procedure", ("7",)),
    Key("s", "Stacks: the farm's layers, their replicas, deploy", ("s",)),
    Key("b / u", "CrowdSec pane: ban an address / unban the selected decision", ("b", "u")),
    Key("p", "Sites pane: purge the selected site's caches", ("p",)),
    Key("l", "Sites pane: follow the selected site's logs; Nodes pane: the service's", ("l",)),
    Key("x", "Nodes pane: a shell in a task of the selected service (console suspended)",
        ("x",)),
    Key("n / d", "Sites pane: new site (form, live progress) / delete the selected",
        ("n", "d")),
    Key("Enter", "Sites pane: the site's visitors (sparklines, top URLs, statuses, clients; "
        "b bans the selected client, p purges)", ("enter",)),
    Key("R", "Backups pane: restore the selected site (snapshot, parts, drill)", ("R",)),
    Key("o / O", "sort by the next column / reverse it (or click a header)", ("o", "O")),
    Key("g", "graphs of the pane's last 30 minutes, thresholds drawn (Nodes, Galera, Caches, "
        "CrowdSec)",
        ("g",)),
    Key("/", "filter the focused table (or the pane's first)", ("slash",)),
    Key("  Enter", "keep the filter, back to the table"),
    Key("  Esc", "clear the filter and hide it", ("escape",)),
    Key("r", "refresh every pane now", ("r",)),
    Key("ctrl+t", "toggle dark / light theme", ("ctrl+t",)),
    Key("ctrl+p", "command palette: go to a pane, pick a theme, switch farm, Run: <action>",
        ("ctrl+p",)),
    Key("Tab / shift+Tab", "next / previous table or tab bar", ("tab", "shift+tab")),
    Key("↑ ↓ PgUp PgDn", "move in a table; a long error shows in full as a tooltip"),
    Key("space , . [ ] - +", "replay (wpfarm --replay FILE): play/pause, step back/forward, "
        "-/+ 1 minute, slower/faster", ("space", "comma", "full_stop", "left_square_bracket",
                                         "right_square_bracket", "minus", "plus")),
    Key("?", "this help", ("question_mark",)),
    Key("q", "quit", ("q",)),
)

def help_rows(panes: str | None = None) -> list[tuple[str, str]]:
    """The rows of the help screen; `panes` names this farm's panes (default: all of them,
    as README lists them)."""
    from wpfarm_tui.status.panes import pane_list

    shown = pane_list() if panes is None else panes
    return [(k.label, k.what.format(panes=shown)) for k in KEYS]


def markdown_table() -> str:
    def cell(text: str) -> str:
        return text.strip().replace("|", "\\|")

    lines = ["| key | what it does |", "|-----|--------------|"]
    lines += [f"| `{cell(label)}` | {cell(what)} |" for label, what in help_rows()]
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown_table())
