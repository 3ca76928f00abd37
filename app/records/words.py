"""Every status and kind word the records use, each spelt once: builds', events', roles', app builds'."""


class Status:
    """Every state a build can be in; the only place these words are spelt."""

    QUEUED = "queued"
    RUNNING = "running"
    PASSED = "passed"
    FAILED = "failed"
    CANCELED = "canceled"
    # A fork's pull request waits for someone to approve it (then queued) or decline it.
    BLOCKED = "blocked"
    DECLINED = "declined"
    # The pipeline file's `when:` left this build out (or, for a step: a step after a failed one
    # never runs, or its own `when:` left it out).
    SKIPPED = "skipped"
    ALL = (QUEUED, RUNNING, PASSED, FAILED, CANCELED, BLOCKED, DECLINED, SKIPPED)
    FINISHED = (PASSED, FAILED, CANCELED, DECLINED, SKIPPED)
    # Not yet finished and not yet running: what a new push may cancel.
    WAITING = (BLOCKED, QUEUED)


class Event:
    """What started a build."""

    PUSH = "push"
    TAG = "tag"
    PULL_REQUEST = "pull_request"
    MANUAL = "manual"
    CRON = "cron"
    ALL = (PUSH, TAG, PULL_REQUEST, MANUAL, CRON)
    # What a secret is given to unless its owner says otherwise; a fork's pull request gets none ever.
    SECRET_DEFAULT = (PUSH, TAG, MANUAL, CRON)


class ForkPolicy:
    """What a pull request from a fork does: waits for approval, builds, or is ignored."""

    APPROVE = "approve"
    BUILD = "build"
    IGNORE = "ignore"
    ALL = (APPROVE, BUILD, IGNORE)


class Role:
    """What a project's member may do; each role may do everything the ones before it may."""

    READ = "read"
    WRITE = "write"
    ADMIN = "admin"
    ALL = (READ, WRITE, ADMIN)

    @classmethod
    def allows(cls, role, needed):
        return cls.ALL.index(role) >= cls.ALL.index(needed)


class MobileStatus:
    """The states of an app build, as the v1 API names them."""

    QUEUED = "queued"
    BUILDING = "building"
    SUCCESS = "success"
    FAILED = "failed"
    ALL = (QUEUED, BUILDING, SUCCESS, FAILED)
    FINISHED = (SUCCESS, FAILED)
    WAITING = (QUEUED,)
