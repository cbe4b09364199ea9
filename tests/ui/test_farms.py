"""Several farms: named contexts, the farm's name and profile always on screen (production
marked), and switching farm from the palette without leaving the console."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from tests.stacks.test_render import farm_yaml
from tests.ui.fixtures import FARM, fixed_collectors, frozen_clock
from wpfarm_tui import contexts
from wpfarm_tui.app import PaneCommands, WpfarmApp
from wpfarm_tui.widgets.status_bar import StatusBar

SIZE = (120, 40)


@pytest.fixture
def config_home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    farms = tmp_path / "config" / "wpfarm" / "farms"
    farms.mkdir(parents=True)
    return farms


def app_for(farm) -> WpfarmApp:
    return WpfarmApp(farm, fixed_collectors(), poll=False, clock=frozen_clock)


def bar_text(app: WpfarmApp) -> str:
    return str(app.query_one(StatusBar).render())


def test_contexts_are_the_yaml_files_in_farms(config_home) -> None:
    (config_home / "prod.yaml").write_text(farm_yaml())
    (config_home / "staging.yaml").write_text(farm_yaml(profile="small"))
    (config_home / "Not A Name.yaml").write_text("")
    assert [c.name for c in contexts.contexts()] == ["prod", "staging"]
    assert contexts.context_path("prod") == config_home / "prod.yaml"


def test_an_unknown_or_unsafe_context_is_refused_with_the_known_ones(config_home) -> None:
    (config_home / "prod.yaml").write_text(farm_yaml())
    with pytest.raises(contexts.ContextError, match=r"known contexts: prod"):
        contexts.context_path("staging")
    with pytest.raises(contexts.ContextError, match="lower-case letters"):
        contexts.context_path("../../etc/passwd")


async def test_production_is_marked_and_other_profiles_named() -> None:
    production = dataclasses.replace(FARM, name="prod-eu1", profile="production")
    async with app_for(production).run_test(size=SIZE) as pilot:
        assert " prod-eu1  PRODUCTION " in bar_text(pilot.app)
    async with app_for(FARM).run_test(size=SIZE) as pilot:
        text = bar_text(pilot.app)
        assert " lab  lab " in text and "PRODUCTION" not in text


async def test_read_only_is_on_screen() -> None:
    app = WpfarmApp(FARM, fixed_collectors(), poll=False, clock=frozen_clock, read_only=True)
    async with app.run_test(size=SIZE) as pilot:
        assert "read-only" in bar_text(pilot.app)


async def test_the_palette_offers_the_other_farms_and_switching_returns_the_new_one(
        config_home) -> None:
    (config_home / "staging.yaml").write_text(farm_yaml(profile="small"))
    (config_home / "lab.yaml").write_text(farm_yaml(profile="lab"))
    this = dataclasses.replace(FARM, source=(config_home / "lab.yaml").resolve())
    app = app_for(this)
    async with app.run_test(size=SIZE):
        offered = [text for text, _, _ in PaneCommands(app.screen)._commands()
                   if text.startswith("Farm:")]
        assert offered == ["Farm: switch to staging"]  # not the farm already open
        app.switch_farm(config_home / "staging.yaml")
    assert app.return_value is not None
    assert app.return_value.profile == "small"


async def test_switching_to_a_broken_farm_keeps_this_one_open(config_home) -> None:
    (config_home / "broken.yaml").write_text("farm: {name: x\n")
    app = app_for(FARM)
    async with app.run_test(size=SIZE) as pilot:
        app.switch_farm(config_home / "broken.yaml")
        await pilot.pause()
        assert app.is_running
        assert any("broken.yaml" in str(n.title) for n in app._notifications)


def test_cli_context_before_or_after_the_verb(config_home, tmp_path, capsys) -> None:
    from wpfarm_tui import cli
    from wpfarm_tui.commands.runner import ExitCode, farm_path_of

    (config_home / "prod.yaml").write_text(farm_yaml())
    args = cli.build_parser().parse_args(["render", "--context", "prod"])
    assert farm_path_of(args) == config_home / "prod.yaml"
    # render reads only the farm file: no network, whatever its addresses.
    assert cli.main(["--context", "prod", "render", "--output", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out").is_dir()
    assert cli.main(["render", "--context", "staging"]) == ExitCode.FAILED
    assert "known contexts: prod" in capsys.readouterr().err
    assert cli.main(["render", "--context", "prod", "--farm", "x.yaml"]) == ExitCode.FAILED
    assert "give one of them" in capsys.readouterr().err
