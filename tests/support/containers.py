"""Containers as the engine lists them, without a look at each one."""


def labelled(docker_client, label, running_only=False):
    """The containers carrying `label` ("key" or "key=value") as the engine's list gives them:
    dicts with "Id", "Labels" and "State". Not the SDK's containers.list(), which inspects every
    container listed and fails when one goes in between, as a finished build's do while its
    worker tidies up."""
    return docker_client.api.containers(all=not running_only, filters={"label": label})


def image_with_entrypoint(docker_client, folder, tag, script, base="stoker-busybox:latest"):
    """An image made here from `base`, without the network: `script` its ENTRYPOINT, `from-cmd` its
    CMD; returns its tag."""
    folder.mkdir(parents=True)
    (folder / "run").write_text(script)
    (folder / "run").chmod(0o755)
    (folder / "Dockerfile").write_text(f'FROM {base}\nCOPY run /bin/run\nENTRYPOINT ["/bin/run"]\nCMD ["from-cmd"]\n')
    docker_client.images.build(path=str(folder), tag=tag, network_mode="none", rm=True)
    return tag
