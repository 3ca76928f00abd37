"""Runs one build command in a fresh container with the workspace mounted, and removes it."""
import logging

import docker
from docker.errors import APIError, DockerException, ImageNotFound

log = logging.getLogger(__name__)

WORKDIR = "/workspace"


class BuildError(Exception):
    """A build could not run at all; the message says why, for the user."""


def connect():
    """Return a docker SDK client for the local engine, or raise BuildError."""
    try:
        return docker.from_env()
    except DockerException as exc:
        raise BuildError(f"the Docker engine is not reachable: {exc}") from None


def run_in_container(client, *, image, command, workspace, network, labels, environment):
    """Run `sh -c command` in `image` with `workspace` at /workspace; return the exit code.

    The container is removed whatever happens, including when the wait is
    interrupted.
    """
    try:
        container = client.containers.create(
            image,
            ["sh", "-c", command],
            working_dir=WORKDIR,
            volumes={str(workspace): {"bind": WORKDIR, "mode": "rw"}},
            network_mode=network,
            labels=labels,
            environment=environment,
        )
    except ImageNotFound:
        raise BuildError(
            f"image {image!r} is not on the Docker engine (make it with "
            f"'stoker make-image' or 'docker pull' it)"
        ) from None
    except APIError as exc:
        raise BuildError(f"the build container could not be created: {exc.explanation}") from None
    try:
        container.start()
        return container.wait()["StatusCode"]
    except APIError as exc:
        raise BuildError(f"the build container failed to run: {exc.explanation}") from None
    finally:
        try:
            container.remove(force=True)
        except DockerException:
            log.exception("could not remove build container %s", container.id)


def kill_labelled(client, labels):
    """Kill every running container that carries all of `labels` (none, when no labels are given)."""
    if not labels:
        return
    filters = {"label": [f"{key}={value}" for key, value in labels.items()]}
    for container in client.containers.list(filters=filters):
        try:
            container.kill()
        except DockerException:
            pass  # it ended on its own meanwhile
