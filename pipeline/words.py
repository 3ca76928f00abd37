"""The words a build is started with and a step ends with, each spelt once; app/records/words.py takes
them from here, as nothing under pipeline/ may import app/."""


class Event:
    """What started a build."""

    PUSH = "push"
    TAG = "tag"
    PULL_REQUEST = "pull_request"
    MANUAL = "manual"
    CRON = "cron"
    ALL = (PUSH, TAG, PULL_REQUEST, MANUAL, CRON)


class StepStatus:
    """How a step of a .stoker.yml ended, as the runner reports it; a build's Status has these too."""

    PASSED = "passed"
    FAILED = "failed"
    # A step after a failed one never runs, nor one its own `when:` leaves out.
    SKIPPED = "skipped"
    ALL = (PASSED, FAILED, SKIPPED)


class After:
    """What a step's `when: {status: [...]}` may name: it runs after success, after failure, or either."""

    SUCCESS = "success"
    FAILURE = "failure"
    ALL = (SUCCESS, FAILURE)
