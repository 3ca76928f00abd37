"""Every status and kind word the records use, each spelt once: builds', events', roles', app builds'.

What a build is started with and a step ends with is pipeline/'s to spell (pipeline/words.py), and
is taken from there. The dashboard is served them all (by_kind).
"""
from pipeline import words as pipeline_words
from pipeline.words import StepStatus


class Status:
    """Every state a build can be in; a step's end (passed, failed, skipped) is the pipeline's word."""

    QUEUED = "queued"
    RUNNING = "running"
    PASSED = StepStatus.PASSED
    FAILED = StepStatus.FAILED
    CANCELED = "canceled"
    # A fork's pull request waits for someone to approve it (then queued) or decline it.
    BLOCKED = "blocked"
    DECLINED = "declined"
    # The pipeline file's `when:` left this build out (or, for a step: a step after a failed one
    # never runs, or its own `when:` left it out).
    SKIPPED = StepStatus.SKIPPED
    ALL = (QUEUED, RUNNING, PASSED, FAILED, CANCELED, BLOCKED, DECLINED, SKIPPED)
    FINISHED = (PASSED, FAILED, CANCELED, DECLINED, SKIPPED)
    # Not yet finished and not yet running: what a new push may cancel.
    WAITING = (BLOCKED, QUEUED)


class Event(pipeline_words.Event):
    """What started a build (pipeline/words.py spells them), and which of them secrets go to."""

    # What a secret is given to unless its owner says otherwise; a fork's pull request gets none ever.
    SECRET_DEFAULT = tuple(event for event in pipeline_words.Event.ALL if event != pipeline_words.Event.PULL_REQUEST)


class ForkPolicy:
    """What a pull request from a fork does: waits for approval, builds, or is ignored."""

    APPROVE = "approve"
    BUILD = "build"
    IGNORE = "ignore"
    ALL = (APPROVE, BUILD, IGNORE)


class Forge:
    """Where a project's code lives, and so how its webhook is proven and read and where its statuses go."""

    GITHUB = "github"
    GITEA = "gitea"
    FORGEJO = "forgejo"
    GITLAB = "gitlab"
    ALL = (GITHUB, GITEA, FORGEJO, GITLAB)


class Role:
    """What a project's member may do; each role may do everything the ones before it may."""

    READ = "read"
    WRITE = "write"
    ADMIN = "admin"
    ALL = (READ, WRITE, ADMIN)

    @classmethod
    def allows(cls, role, needed):
        return cls.ALL.index(role) >= cls.ALL.index(needed)


class Scope:
    """What an API token may do: read (GET alone), or write (whatever its user may, but manage tokens)."""

    READ = "read"
    WRITE = "write"
    ALL = (READ, WRITE)


class AppBuildStatus:
    """The states of an app build, as the v1 API names them."""

    QUEUED = "queued"
    BUILDING = "building"
    SUCCESS = "success"
    FAILED = "failed"
    CANCELED = "canceled"
    ALL = (QUEUED, BUILDING, SUCCESS, FAILED, CANCELED)
    FINISHED = (SUCCESS, FAILED, CANCELED)
    # What made no app, so its version may be built again.
    UNMADE = (FAILED, CANCELED)
    WAITING = (QUEUED,)


def by_kind():
    """Every word above by kind and name, as the dashboard is served them: {"Status": {"QUEUED": "queued",
    ..., "ALL": [...]}, "Event": {...}, ...}."""
    return {kind.__name__: {name: getattr(kind, name) for name in dir(kind) if name.isupper()}
            for kind in (Status, Event, ForkPolicy, Forge, Role, Scope, AppBuildStatus)}
