"""The Runner a host runs builds with (a worker beside the server, or an agent), set up from its settings."""
from pipeline.backend import Sandbox
from pipeline.runner import Runner

from . import runtime


def make_runner(config, engine, labels):
    return Runner(
        config["STOKER_DATA_DIR"],
        backend=engine,
        sandbox=Sandbox(network=config["STOKER_BUILD_NETWORK"], caps=config["STOKER_BUILD_CAPS"],
                        pids=config["STOKER_BUILD_PIDS"], memory=config["STOKER_BUILD_MEMORY"],
                        cpus=config["STOKER_BUILD_CPUS"]),
        allow_local_repos=config["STOKER_ALLOW_LOCAL_REPOS"],
        allow_private_hosts=config["STOKER_ALLOW_PRIVATE_REPO_HOSTS"],
        git_timeout=config["STOKER_GIT_TIMEOUT"],
        lfs_max_bytes=config["STOKER_LFS_MAX_BYTES"],
        labels=labels,
        pull_registries=config["STOKER_PULL_REGISTRIES"],
        busybox=config["STOKER_BUSYBOX"],
        image_builder=config["STOKER_IMAGE_BUILDER"],
        off_the_hub=runtime.off_the_hub,
    )
