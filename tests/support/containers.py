"""Containers as the engine lists them, without a look at each one."""


def labelled(docker_client, label, running_only=False):
    """The containers carrying `label` ("key" or "key=value") as the engine's list gives them:
    dicts with "Id", "Labels" and "State". Not the SDK's containers.list(), which inspects every
    container listed and fails when one goes in between, as a finished build's do while its
    worker tidies up."""
    return docker_client.api.containers(all=not running_only, filters={"label": label})
