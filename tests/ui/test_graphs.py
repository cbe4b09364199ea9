"""`g`: a pane's history as graphs, drawn from the collector's own history."""

from __future__ import annotations

import dataclasses

from tests.ui.fixtures import FARM, frozen_clock
from wpfarm_tui.app import WpfarmApp
from wpfarm_tui.inventory import Endpoints, VarnishEndpoint, VarnishInstance
from wpfarm_tui.screens.graphs import GraphScreen
from wpfarm_tui.status.caches import CachesCollector

SIZE = (120, 40)


def varnish_farm():
    endpoints = Endpoints(varnish=VarnishEndpoint((VarnishInstance("varnish-1", "/nonexistent"),)))
    return dataclasses.replace(FARM, endpoints=endpoints)


def test_graph_series_come_from_the_history() -> None:
    collector = CachesCollector(varnish_farm())
    key = ("varnish", "varnish-1")
    for i, (req, hit, miss) in enumerate([(0, 0, 0), (100, 90, 10), (300, 250, 50)]):
        collector.history.record(key, {"client_req": req, "cache_hit": hit, "cache_miss": miss},
                                 at=10.0 * i)
    by_title = {g.title: g for g in collector.graphs()}
    assert [v for _, v in by_title["varnish-1 requests"].points] == [10.0, 20.0]
    assert [v for _, v in by_title["varnish-1 hit ratio"].points] == [90.0, 80.0]
    assert by_title["varnish-1 hit ratio"].threshold == "cache_hit_ratio"


async def test_g_opens_the_graphs_of_the_current_pane_and_escape_closes() -> None:
    farm = varnish_farm()
    collector = CachesCollector(farm)
    collector.history.record(("varnish", "varnish-1"), {"client_req": 0}, at=0.0)
    collector.history.record(("varnish", "varnish-1"), {"client_req": 50}, at=5.0)
    app = WpfarmApp(farm, [collector], poll=False, clock=frozen_clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("g")
        await pilot.pause()
        assert isinstance(app.screen, GraphScreen)
        assert app.screen.plotted() == ["varnish-1 requests", "varnish-1 hit ratio"]
        assert len(app.screen.query("PlotextPlot")) == 2
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, GraphScreen)
