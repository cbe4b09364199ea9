"""How the console shows a running action: its plan, one line per step event and the
verdict, worded and coloured one way on every screen that runs one (the action screen,
restore, deploy), and the way the headless CLI prints them (`[done   ] step  message`,
`OK: summary`), so an operator reads the same thing in both.

`ActionLog` is the log; `verdict_text` is the verdict, shown by each screen where it puts
its result (under the log, above it, or in the status line)."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import RichLog

from wpfarm_tui.steps import Step, StepEvent, Verdict

KIND_STYLE = {"started": "bold", "done": "green", "failed": "bold red", "skipped": "dim",
              "output": ""}


def step_text(step: Step) -> Text:
    """A plan step, for a screen that shows the plan in its log rather than a table."""
    flag = " [destructive]" if step.destructive else ""
    detail = f": {step.detail}" if step.detail else ""
    return Text(f"plan  {step.name}{flag}{detail}", style="dim")


def event_text(event: StepEvent) -> Text:
    line = Text(f"[{event.kind:7}] ", style=KIND_STYLE.get(event.kind, ""))
    line.append(event.step, style="bold")
    if event.message:
        line.append(f"  {event.message}")
    return line


def verdict_text(verdict: Verdict, *, details: bool = True) -> Text:
    """`OK: summary` or `FAILED: summary`, then one indented line per detail (unless the
    screen puts those in its log: a deploy has one per service)."""
    text = Text("OK: " if verdict.ok else "FAILED: ",
                style="bold green" if verdict.ok else "bold red")
    text.append(verdict.summary)
    for detail in verdict.details if details else ():
        text.append(f"\n  {detail}")
    return text


class ActionLog(RichLog):
    """The live log of one action run: plan steps and step events, one line each."""

    def __init__(self, *, id: str | None = None, classes: str | None = None,
                 max_lines: int | None = None) -> None:
        # markup off: step names and messages come from the farm and may hold "[...]".
        super().__init__(id=id, classes=classes, max_lines=max_lines, wrap=True,
                         markup=False)

    def show(self, item: Step | StepEvent) -> None:
        self.write(step_text(item) if isinstance(item, Step) else event_text(item))

    def show_details(self, verdict: Verdict) -> None:
        """The verdict's details, for a screen whose verdict line has no room for them."""
        for detail in verdict.details:
            self.write(Text(f"  {detail}"))
