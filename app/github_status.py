"""Commit statuses on GitHub: owed when a build's status changes, delivered with retries.

Nothing here can fail a build: a status GitHub does not take is retried with
backoff, then given up and logged. Only a build's newest owed status is sent,
so a retried `pending` never lands on top of a `success`.
"""
import logging
import re
from datetime import timedelta

import requests

from .models import Build, GithubStatus, Status, db, utcnow
from .runtime import Periodic
from .vault import VaultError, unseal

log = logging.getLogger(__name__)

STATES = {
    Status.QUEUED: ("pending", "Queued"),
    Status.RUNNING: ("pending", "Running"),
    Status.PASSED: ("success", "Passed"),
    Status.FAILED: ("failure", "Failed"),
    Status.CANCELED: ("error", "Canceled"),
    Status.BLOCKED: ("pending", "Waiting for approval"),
    Status.DECLINED: ("error", "Declined"),
    Status.SKIPPED: ("success", "Skipped"),
}
CONTEXT = "stoker"
MAX_ATTEMPTS = 8
GITHUB_REPO = re.compile(r"[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}")
GITHUB_URL = re.compile(r"(?:https://github\.com/|git@github\.com:)([A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+?)(?:\.git)?/?")


def repo_from_url(url):
    """'owner/repo' for a GitHub repository URL, else None."""
    match = GITHUB_URL.fullmatch(url)
    return match[1] if match else None


def owe(build, project):
    """Record that GitHub is owed this build's current status, if the project reports there."""
    if not (project.github_repo and project.github_token_sealed):
        return
    state, word = STATES[build.status]
    if build.status == Status.FAILED:
        word = f"Failed: {build.error}" if build.error else f"Failed with exit code {build.exit_code}"
    GithubStatus.create(build=build.id, state=state, description=word[:140])


def deliver_due(app):
    """Send the newest due status of each build that owes one; return how many GitHub took."""
    now = utcnow()
    newest = {}
    for row in (GithubStatus.select().where((GithubStatus.done == False)  # noqa: E712
                                            & (GithubStatus.next_try_at <= now)).order_by(GithubStatus.id)):
        newest[row.build_id] = row
    delivered = 0
    for row in newest.values():
        GithubStatus.update(done=True).where((GithubStatus.build == row.build_id) & (GithubStatus.id < row.id)
                                             & (GithubStatus.done == False)).execute()  # noqa: E712
        try:
            _send(app, row)
        except (requests.RequestException, VaultError) as exc:
            row.attempts += 1
            if row.attempts >= MAX_ATTEMPTS:
                row.done = True
                log.error("gave up telling GitHub build %s is %s: %s", row.build_id, row.state, exc)
            else:
                row.next_try_at = now + timedelta(seconds=min(60, 2 ** row.attempts))
                log.warning("GitHub did not take build %s's status (%s); retrying", row.build_id, exc)
            row.save()
            continue
        row.done = True
        row.save()
        delivered += 1
    return delivered


def _send(app, row):
    build = Build.get_by_id(row.build_id)
    project = build.project
    token = unseal(app.config["SECRET_KEY"], project.github_token_sealed, what="the project's GitHub token")
    response = requests.post(
        f"{app.config['STOKER_GITHUB_API_URL']}/repos/{project.github_repo}/statuses/{build.commit_hash}",
        json={"state": row.state, "description": row.description, "context": CONTEXT,
              "target_url": f"{app.config['STOKER_PUBLIC_URL']}/builds/{build.id}"},
        headers={"Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json",
                 "X-GitHub-Api-Version": "2022-11-28"},
        timeout=10,
    )
    response.raise_for_status()


def _deliver_in_context(app):
    with app.app_context(), db.connection_context():
        deliver_due(app)


DELIVERY = Periodic("delivering GitHub statuses", _deliver_in_context, every=1.0, role="workers")
