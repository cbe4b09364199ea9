"""`wpfarm render`, `wpfarm images build`, `wpfarm deploy`, `wpfarm swarmlab up|down|status`."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path

from wpfarm_tui.commands.runner import (
    ExitCode,
    add_action_flags,
    load_farm_of,
    refuse_if_read_only,
    run_action_cli,
    seconds,
)


def _default_render_dir(farm) -> Path:
    base = Path(farm.source).parent if farm.source else Path.cwd()
    return base / "render"


def cmd_render(args: argparse.Namespace) -> int:
    from wpfarm_tui.stacks.render import StackError, render_farm

    farm = load_farm_of(args)
    out = Path(args.output) if args.output else _default_render_dir(farm)
    try:
        files = render_farm(farm, out, lab=args.lab)
    except StackError as exc:
        print(f"wpfarm render: {exc}", file=sys.stderr)
        return ExitCode.FAILED
    if args.json:
        print(json.dumps({"output": str(out), "files": [str(f) for f in files]}))
    else:
        print(f"rendered {len(files)} files under {out}")
    return ExitCode.OK


def cmd_images(args: argparse.Namespace) -> int:
    from wpfarm_tui.farm.docker import client as make_client
    from wpfarm_tui.stacks.images import ImageError, build_all, farm_builds

    farm = load_farm_of(args)
    # Not an action, but it changes the farm (its Docker's images, the registry): the same
    # read-only guard, before Docker is asked anything.
    refused = refuse_if_read_only("images-build", farm, args,
                                  {"images": list(args.image or ()), "push": args.push})
    if refused is not None:
        return refused
    if not farm.endpoints.docker:
        print("wpfarm images: farm.yaml has no endpoints.docker", file=sys.stderr)
        return ExitCode.FAILED
    render_dir = Path(args.render_dir) if args.render_dir else _default_render_dir(farm)
    say = (lambda _m: None) if args.json else print
    try:
        specs = farm_builds(render_dir, only=tuple(args.image or ()))
        with contextlib.closing(make_client(farm.endpoints.docker)) as cli:
            cli.api.timeout = 900
            results = build_all(cli, specs, push_images=args.push, progress=say)
    except ImageError as exc:
        print(f"wpfarm images: {exc}", file=sys.stderr)
        return ExitCode.FAILED
    if args.json:
        print(json.dumps([r.__dict__ for r in results]))
    return ExitCode.OK


def cmd_deploy(args: argparse.Namespace) -> int:
    from wpfarm_tui.actions import ActionError
    from wpfarm_tui.stacks.deploy import DeployAction

    farm = load_farm_of(args)
    render_dir = Path(args.render_dir) if args.render_dir else _default_render_dir(farm)
    overrides = [Path(d) for d in args.override or ()]
    if args.lab:
        # render_farm(lab=True)'s dnsrr/host-port overrides, then a lab's own (swarmlab).
        lab_dirs = [render_dir / "docker" / "compose" / "lab",
                    render_dir / "docker" / "lab" / "compose"]
        overrides[:0] = [d for d in lab_dirs if d.is_dir()]
    try:
        action = DeployAction(farm, render_dir, args.layer, override_dirs=overrides,
                              timeout=args.timeout, galera_bootstrap=args.galera_bootstrap)
    except ActionError as exc:
        print(f"wpfarm deploy: {exc}", file=sys.stderr)
        return ExitCode.FAILED
    return run_action_cli(action, farm, args)


def cmd_swarmlab(args: argparse.Namespace) -> int:
    from wpfarm_tui.swarmlab import SwarmLab, SwarmLabError

    lab = SwarmLab(Path(args.dir) if args.dir else None)
    say = (lambda _m: None) if args.json else print
    try:
        if args.swarmlab_verb == "up":
            farm_file = lab.up(progress=say)
            if args.farm_images:
                from wpfarm_tui.swarmlab.farm import LabFarm

                lf = LabFarm(lab)
                lf.render()
                lf.create_secrets(progress=say)
                lf.build_images(progress=say)
                lf.seed_content()
            if args.json:
                print(json.dumps({"farm_file": str(farm_file), "status": lab.status()}))
            else:
                print(f"open the console: wpfarm --farm {farm_file}")
        elif args.swarmlab_verb == "down":
            lab.down(purge="all" if args.purge_all else args.purge, progress=say)
            if args.json:
                print(json.dumps({"status": lab.status()}))
        else:
            states = lab.status()
            if args.json:
                print(json.dumps({"farm_file": str(lab.farm_file), "status": states}))
            else:
                for name, state in states.items():
                    print(f"{name:16} {state}")
            return ExitCode.OK if lab.ready() else ExitCode.FAILED
    except SwarmLabError as exc:
        print(f"wpfarm swarmlab {args.swarmlab_verb}: {exc}", file=sys.stderr)
        return ExitCode.FAILED
    return ExitCode.OK


def register(verbs: argparse._SubParsersAction) -> None:
    from wpfarm_tui.stacks.deploy import LAYERS

    render = verbs.add_parser("render", help="render the farm's stacks, configs and Dockerfiles")
    render.add_argument("--output", metavar="DIR", help="default: render/ beside farm.yaml")
    render.add_argument("--lab", action="store_true",
                        help="also write docker/compose/lab/ overrides (no IPVS: dnsrr, "
                             "host-mode ports)")
    render.add_argument("--json", action="store_true")
    render.set_defaults(func=cmd_render)

    images = verbs.add_parser("images", help="the farm's own images")
    images.add_argument("images_verb", choices=("build",))
    images.add_argument("image", nargs="*", help="wordpress, varnish, backup (default: all)")
    images.add_argument("--push", action="store_true", help="push to the registry in the tag")
    images.add_argument("--render-dir", metavar="DIR", help="what `wpfarm render` wrote")
    images.add_argument("--json", action="store_true")
    images.set_defaults(func=cmd_images)

    deploy = verbs.add_parser("deploy", help="deploy layers to the Swarm and wait for them")
    deploy.add_argument("layer", nargs="*", help=f"layers ({', '.join(LAYERS)}); default: all"
                        ).completer = lambda **_: list(LAYERS)
    deploy.add_argument("--render-dir", metavar="DIR", help="what `wpfarm render` wrote")
    deploy.add_argument("--override", metavar="DIR", action="append",
                        help="a directory of override files merged over the stack files")
    deploy.add_argument("--lab", action="store_true",
                        help="merge the render's lab overrides (docker/compose/lab/, "
                             "docker/lab/compose/)")
    deploy.add_argument("--timeout", type=seconds(6 * 3600), default=300.0,
                        help="seconds to wait for each layer to converge")
    deploy.add_argument("--galera-bootstrap", metavar="NODE",
                        help="start a NEW Galera cluster from NODE (default: automatic on "
                             "the first deploy of the db layer only)")
    add_action_flags(deploy)
    deploy.set_defaults(func=cmd_deploy)

    swarmlab = verbs.add_parser("swarmlab", help="a three-node Swarm in network namespaces")
    swarmlab.add_argument("swarmlab_verb", choices=("up", "down", "status"))
    swarmlab.add_argument("--dir", metavar="DIR",
                          help="state directory (default: $WPFARM_SWARMLAB_DIR or "
                               "/var/lib/wpfarm-swarmlab)")
    swarmlab.add_argument("--farm-images", action="store_true",
                          help="up: also render the farm and build + push its images")
    swarmlab.add_argument("--purge", action="store_true",
                          help="down: delete images, volumes and the registry's storage")
    swarmlab.add_argument("--purge-all", action="store_true",
                          help="down: --purge and the debootstrap cache too")
    swarmlab.add_argument("--json", action="store_true")
    swarmlab.set_defaults(func=cmd_swarmlab)
