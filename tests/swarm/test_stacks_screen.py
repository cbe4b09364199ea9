"""Pilot test of the Stacks screen, fed by a stand-in for the Docker API's three calls
(the same JSON shapes the Engine API returns; the e2e tests use the real swarm)."""

from __future__ import annotations

from pathlib import Path

from textual.app import App
from textual.widgets import DataTable

from wpfarm_tui.inventory import load_farm
from wpfarm_tui.screens.stacks import StacksScreen


class _Api:
    def services(self, filters=None):
        return [
            {"ID": "s1", "Spec": {"Name": "db_mariadb-1", "Mode": {"Replicated": {"Replicas": 1}}}},
            {"ID": "s2", "Spec": {"Name": "cache_varnish",
                                  "Mode": {"Replicated": {"Replicas": 3}}},
             "UpdateStatus": {"State": "updating"}},
        ]

    def tasks(self, filters=None):
        run = {"State": "running"}
        tasks = [{"ServiceID": "s1", "Status": run}, {"ServiceID": "s2", "Status": run},
                 {"ServiceID": "s2", "Status": {"State": "starting"}}]
        if filters:
            return tasks
        return [*tasks, {"ServiceID": "s2", "UpdatedAt": "2026-01-01T00:00:00Z",
                         "Status": {"State": "failed", "Err": "task: non-zero exit (1)"}}]


class _Client:
    api = _Api()

    def close(self):
        pass


async def test_stacks_screen_shows_layers(tmp_path: Path):
    farm_file = tmp_path / "farm.yaml"
    farm_file.write_text(
        "farm: {name: t, domain: t.test, profile: lab}\n"
        "nodes:\n- {name: n1, address: 10.0.0.1, roles: [manager, db, cache, worker]}\n"
        "endpoints: {docker: {host: 'unix:///nonexistent.sock'}}\n")
    farm = load_farm(farm_file)

    class Host(App):
        def on_mount(self):
            self.push_screen(StacksScreen(farm, tmp_path, interval=60,
                                          client_factory=_Client))

    app = Host()
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause(0.5)
        table = app.screen.query_one("#stacks-table", DataTable)
        rows = {k.value: table.get_row(k) for k in table.rows}
        assert set(rows) == {"db_mariadb-1", "cache_varnish"}
        assert rows["db_mariadb-1"][0] == "db"
        assert str(rows["cache_varnish"][2]) == "1" and str(rows["cache_varnish"][3]) == "3"
        assert "non-zero exit" in str(rows["cache_varnish"][5])
