"""Build the farm's own images from the rendered docker/images/* and push them.

Builds go through the Docker Engine API (docker SDK, the classic builder: a `FROM` that
names a local image uses it without pulling, which is how the lab builds offline from a
debootstrapped base). Each image is tagged with the reference the stack files use (from
versions.py: image_wordpress, image_varnish, image_backup), so a farm whose versions point
at its registry (`registry.example:5000/wpfarm/wordpress:1.0.0`) pushes exactly what it
deploys.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import docker

from wpfarm_tui.stacks.versions import resolve_versions

Progress = Callable[[str], None]

#: docker/images/<dir> -> the versions.py key of its tag.
FARM_IMAGES: dict[str, str] = {
    "wordpress": "image_wordpress",
    "varnish": "image_varnish",
    "backup": "image_backup",
}


class ImageError(Exception):
    """A build or push failed; the message names the image, the step and the log tail."""


@dataclass(frozen=True)
class ImageBuild:
    name: str          # "wordpress"
    context: Path      # the rendered docker/images/wordpress
    tag: str           # the reference the stacks deploy
    dockerfile: str = "Dockerfile"
    buildargs: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class BuildResult:
    name: str
    tag: str
    image_id: str
    seconds: float
    pushed: bool = False
    push_seconds: float = 0.0


def farm_builds(render_dir: Path, versions: Mapping[str, str] | None = None,
                only: tuple[str, ...] = ()) -> list[ImageBuild]:
    """The farm's images found under `render_dir`/docker/images, with their tags."""
    v = resolve_versions(versions)
    out: list[ImageBuild] = []
    for name, key in FARM_IMAGES.items():
        if only and name not in only:
            continue
        context = Path(render_dir) / "docker" / "images" / name
        if not (context / "Dockerfile").exists():
            raise ImageError(f"{context}/Dockerfile is missing: run `wpfarm render` first")
        out.append(ImageBuild(name=name, context=context, tag=v[key]))
    return out


def _stream(lines: Iterator[dict], tail: list[str], say: Progress | None) -> str | None:
    """Consume a build/push JSON stream; returns the error text, if any."""
    for chunk in lines:
        if "error" in chunk or "errorDetail" in chunk:
            return str(chunk.get("error") or chunk.get("errorDetail", {}).get("message"))
        text = (chunk.get("stream") or chunk.get("status") or "").rstrip()
        if text:
            tail.append(text)
            del tail[:-30]
            if say and text.startswith("Step "):
                say(text)
    return None


def build(client: docker.DockerClient, spec: ImageBuild, progress: Progress | None = None,
          nocache: bool = False) -> BuildResult:
    """Build one image; raises ImageError with the last lines of the build log."""
    t0 = time.monotonic()
    tail: list[str] = []
    stream = client.api.build(path=str(spec.context), dockerfile=spec.dockerfile, tag=spec.tag,
                              rm=True, forcerm=True, decode=True, nocache=nocache,
                              buildargs=dict(spec.buildargs) or None, pull=False)
    error = _stream(stream, tail, progress)
    if error:
        log = "\n    ".join(tail[-15:])
        raise ImageError(f"build of {spec.name} ({spec.tag}) failed: {error}\n    {log}")
    image = client.images.get(spec.tag)
    return BuildResult(spec.name, spec.tag, image.id, time.monotonic() - t0)


def push(client: docker.DockerClient, tag: str, progress: Progress | None = None) -> float:
    """Push `tag` to the registry its name points at; returns the seconds it took."""
    t0 = time.monotonic()
    repo, _, version = tag.rpartition(":")
    if "/" in version or not repo:  # "host:5000/name" without a tag
        repo, version = tag, "latest"
    tail: list[str] = []
    error = _stream(client.api.push(repo, tag=version, stream=True, decode=True), tail, None)
    if error:
        raise ImageError(f"push of {tag} failed: {error} (is the registry reachable and, for "
                         "a plain-HTTP registry, listed in the daemon's --insecure-registry?)")
    if progress:
        progress(f"pushed {tag}")
    return time.monotonic() - t0


def build_all(client: docker.DockerClient, specs: list[ImageBuild], push_images: bool = False,
              progress: Progress | None = None) -> list[BuildResult]:
    results: list[BuildResult] = []
    for spec in specs:
        if progress:
            progress(f"building {spec.name} -> {spec.tag}")
        res = build(client, spec, progress)
        if push_images:
            secs = push(client, spec.tag, progress)
            res = BuildResult(res.name, res.tag, res.image_id, res.seconds, True, secs)
        if progress:
            progress(f"built {spec.name} in {res.seconds:.0f} s"
                     + (f", pushed in {res.push_seconds:.1f} s" if res.pushed else ""))
        results.append(res)
    return results


def image_exists(client: docker.DockerClient, tag: str) -> bool:
    with contextlib.suppress(docker.errors.ImageNotFound):
        client.images.get(tag)
        return True
    return False
