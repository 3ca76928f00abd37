"""The commit status outbox: a row for each status change a project's forge is owed, written in the
change's own transaction, and sent by app/background/statuses.py with retries."""
from .models import GithubStatus, Status

# What each status is called on the forge's page.
WORDS = {
    Status.QUEUED: "Queued",
    Status.RUNNING: "Running",
    Status.PASSED: "Passed",
    Status.FAILED: "Failed",
    Status.CANCELED: "Canceled",
    Status.BLOCKED: "Waiting for approval",
    Status.DECLINED: "Declined",
    Status.SKIPPED: "Skipped",
}


def owe(build, project):
    """Record that the project's forge is owed this build's current status, if it reports to one."""
    if not project.reports_status:
        return
    word = WORDS[build.status]
    if build.status == Status.FAILED:
        word = f"Failed: {build.error}" if build.error else f"Failed with exit code {build.exit_code}"
    # The status as Stoker words it: the forge puts it in its own words when it is sent.
    GithubStatus.create(build=build.id, state=build.status, description=word[:140])
