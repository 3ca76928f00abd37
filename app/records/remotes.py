"""What a project's remote says now: the head of a branch, reached as this server's settings let git."""
from pipeline.git.command import NO_ACCESS, ls_remote_branch

from . import vault


def remote_head(config, repo_url, branch, access=NO_ACCESS):
    """The head commit of `branch` on the remote, as this server's settings let git reach it;
    GitError (UnsafeRemote among them) when it cannot."""
    return ls_remote_branch(repo_url, branch, allow_local=config["STOKER_ALLOW_LOCAL_REPOS"],
                            allow_private_hosts=config["STOKER_ALLOW_PRIVATE_REPO_HOSTS"],
                            timeout=config["STOKER_GIT_TIMEOUT"], access=access)


def head_of(config, project, branch):
    """The head commit of `branch` in the project's repository, reached with its token or key."""
    return remote_head(config, project.repo_url, branch, vault.access_of(project, config["SECRET_KEY"]))
