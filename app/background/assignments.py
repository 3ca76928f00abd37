"""What a build is given to run with, as plain values: a worker beside the server makes its BuildJob
of them at once, and an agent receives them over the agent API, so both run a build from the same
decisions (its secrets, credentials, network, caches), made here on the server."""
import hmac
import json

from pipeline.git.command import split_credentials

from ..records.models import Event
from ..records.vault import access_of, registries_of, secrets_of
from . import caches


def has_way_out(build, config):
    """Whether the build gets a network of its own with a way out: the server gives them
    (STOKER_BUILD_EGRESS), the build is on the default network (its project names none, and the
    admin's default is none), and it is not a fork's pull request that nobody let run."""
    unapproved_fork = build.fork and build.triggered_by_id is None
    return (config["STOKER_BUILD_EGRESS"] and build.project.network is None
            and config["STOKER_BUILD_NETWORK"] == "none" and not unapproved_fork)


def assignment(build, config, relayed=False):
    """The build's BuildJob fields (pipeline.runner.BuildJob.given reads them back), its secrets and
    credentials unsealed; VaultError when they cannot be. `relayed`: for a build agent, which fetches
    through the server (app/api/agent_git.py) and is given no repository credential, only its name."""
    project, key = build.project, config["SECRET_KEY"]
    access = access_of(project, key)
    # A fork's code could run in a private image pulled for it: it gets no credentials either.
    registries, for_builder = ({}, ()) if build.fork else registries_of(project, key)
    cache = caches.access_for(build, project, config)
    return {
        "build_id": build.id,
        # An agent is never given one (an old project's URL may hold one): it fetches by way of the server.
        "repo_url": split_credentials(project.repo_url)[0] if relayed else project.repo_url,
        "commit_hash": build.commit_hash,
        "branch": build.branch,
        "image": project.image,
        "command": project.build_command,
        "timeout": project.timeout_seconds,
        "secrets": secrets_of(build, key),
        "event": build.event,
        "ref": build.ref,
        "variables": json.loads(build.variables) if build.variables else {},
        "before": build.before_hash,
        "base_branch": json.loads(build.pull_request)["baseBranch"] if build.pull_request else None,
        "default_branch": project.branch,
        # Named, not shown: keyed with the server's secret, so that a name cannot be checked against
        # guesses of a weak token away from the server.
        "access": {"fingerprint": hmac.new(key.encode(), access.fingerprint().encode(), "sha256").hexdigest()[:16]}
        if relayed else {
            "token": access.token, "ssh_key": access.ssh_key, "known_hosts": access.known_hosts},
        "registries": registries,
        # What the image builder gets its Dockerfile can read: never for a pull request, as secrets by default.
        "builder_registries": {} if build.event == Event.PULL_REQUEST else {
            host: registries[host] for host in for_builder},
        "fork": build.fork,
        "network": project.network,
        "egress": has_way_out(build, config),
        # The folder by name alone: each host keeps the project's caches under its own data dir.
        "cache": cache and {"folder": cache.folder.name, "branch": cache.branch, "fallback": cache.fallback,
                            "write": cache.write, "max_bytes": cache.max_bytes},
        "commit_message": build.commit_message,
        "commit_author": build.commit_author,
        "page_url": f"{config['STOKER_PUBLIC_URL']}/builds/{build.id}",
        "artifact_max_bytes": config["STOKER_ARTIFACT_MAX_BYTES"],
        "artifact_total_bytes": config["STOKER_ARTIFACT_BUILD_MAX_BYTES"],
    }
