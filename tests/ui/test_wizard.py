"""The setup wizard: every step's look (snapshots) and the whole flow against a
real sshd on loopback (fingerprint shown, trusted on request, facts read,
farm.yaml written and loadable)."""

from __future__ import annotations

from pathlib import Path

from wpfarm_tui.farm import ssh
from wpfarm_tui.inventory import load_farm
from wpfarm_tui.screens.wizard import NodesStep, ReviewStep, TrustKeyScreen, WizardApp

SIZE = (120, 40)
PORT = 16222
SHOWN_PATH = Path("/root/.config/wpfarm/farm.yaml")  # fixed, for stable snapshots


async def fill_farm_step(pilot, name="stage", domain="stage.example.com") -> None:
    app = pilot.app
    app.screen.query_one("#name").value = name
    app.screen.query_one("#domain").value = domain
    await pilot.click("#next")
    await pilot.pause()


async def fill_addresses(pilot) -> None:
    screen = pilot.app.screen
    table = screen.query_one("#nodes")
    for row in range(3):
        table.move_cursor(row=row)
        await pilot.pause(0.1)  # the highlight loads the row into the form first
        screen.query_one("#n-address").value = f"10.9.0.{row + 1}"
        await pilot.click("#save")


async def test_bad_farm_fields_stay_on_step_one(tmp_path):
    app = WizardApp(tmp_path / "farm.yaml")
    async with app.run_test(size=SIZE) as pilot:
        await fill_farm_step(pilot, "Bad Name", "nodot")
        errors = str(app.screen.query_one("#errors").render())
        assert "name: 'Bad Name' is not valid" in errors
        assert "domain: 'nodot' is not valid" in errors
        assert not isinstance(app.screen, NodesStep)


async def test_nodes_without_addresses_cannot_go_on(tmp_path):
    app = WizardApp(tmp_path / "farm.yaml")
    async with app.run_test(size=SIZE) as pilot:
        await fill_farm_step(pilot)
        await pilot.click("#next")
        await pilot.pause()
        assert isinstance(app.screen, NodesStep)
        assert "nodes[0].address" in str(app.screen.query_one("#errors").render())
    assert not (tmp_path / "farm.yaml").exists()


async def test_whole_flow_against_real_sshd(sshd, tmp_path):
    known_hosts = tmp_path / "known_hosts"
    out = tmp_path / "conf" / "farm.yaml"
    app = WizardApp(out, known_hosts=known_hosts, timeout=5)
    async with app.run_test(size=SIZE) as pilot:
        await fill_farm_step(pilot)
        assert isinstance(app.screen, NodesStep)
        screen = app.screen
        await fill_addresses(pilot)
        screen.query_one("#nodes").move_cursor(row=0)
        await pilot.pause(0.1)
        for field, value in (("address", "127.0.0.1"), ("port", str(PORT)),
                             ("key", str(sshd / "client_key")), ("roles", "manager+db+cache")):
            screen.query_one(f"#n-{field}").value = value
        await pilot.click("#check")
        for _ in range(50):
            await pilot.pause(0.1)
            if isinstance(app.screen, TrustKeyScreen):
                break
        assert isinstance(app.screen, TrustKeyScreen)
        assert app.focused.id == "cancel"  # trusting must be a deliberate choice
        assert "SHA256:" in str(app.screen.query_one("#trust-body").render())
        await pilot.click("#trust")
        for _ in range(50):
            await pilot.pause(0.1)
            if app.check_result.get("node1", "").startswith("ok"):
                break
        assert app.check_result["node1"].startswith("ok"), app.check_result
        assert ssh.known_key(ssh.fetch_host_key("127.0.0.1", PORT, 5), known_hosts) == "trusted"
        await pilot.click("#next")
        await pilot.pause()
        assert isinstance(app.screen, ReviewStep), app.screen.query_one("#errors").render()
        await pilot.click("#write")
        await pilot.pause()
    assert app.return_value == out
    farm = load_farm(out)
    assert [n.address for n in farm.nodes] == ["127.0.0.1", "10.9.0.2", "10.9.0.3"]
    assert farm.nodes[0].ssh.port == PORT


async def test_refused_trust_checks_nothing(sshd, tmp_path):
    known_hosts = tmp_path / "known_hosts"
    app = WizardApp(tmp_path / "farm.yaml", known_hosts=known_hosts, timeout=5)
    async with app.run_test(size=SIZE) as pilot:
        await fill_farm_step(pilot)
        screen = app.screen
        screen.query_one("#n-address").value = "127.0.0.1"
        screen.query_one("#n-port").value = str(PORT)
        await pilot.click("#check")
        for _ in range(50):
            await pilot.pause(0.1)
            if isinstance(app.screen, TrustKeyScreen):
                break
        await pilot.press("enter")  # Cancel has the focus
        await pilot.pause()
        assert app.host_key_state["node1"] == "not trusted"
    assert not known_hosts.exists()


def test_snapshot_farm_step(snap_compare):
    assert snap_compare(WizardApp(SHOWN_PATH), terminal_size=SIZE)


def test_snapshot_nodes_step(snap_compare):
    assert snap_compare(WizardApp(SHOWN_PATH), terminal_size=SIZE, run_before=fill_farm_step)


def test_snapshot_review_step(snap_compare):
    async def run_before(pilot) -> None:
        await fill_farm_step(pilot)
        await fill_addresses(pilot)
        await pilot.click("#next")
        await pilot.pause()

    assert snap_compare(WizardApp(SHOWN_PATH), terminal_size=SIZE, run_before=run_before)


def test_snapshot_trust_dialog(snap_compare):
    key = ssh.HostKey("10.9.0.1", 22, "ssh-ed25519",
                      "AAAAC3NzaC1lZDI1NTE5AAAAIHc6Oa3Wl1Vg0Sx4m1HXzAQ3Y8cS7pxkq0R0Vd0r2f0X")

    async def run_before(pilot) -> None:
        pilot.app.push_screen(TrustKeyScreen("node1", key))
        await pilot.pause()

    assert snap_compare(WizardApp(SHOWN_PATH), terminal_size=SIZE, run_before=run_before)
