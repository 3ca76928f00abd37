"""Builds, with their steps, logs (whole and per step) and owed commit statuses."""
import json

from peewee import BigIntegerField, BooleanField, CharField, DateTimeField, ForeignKeyField, IntegerField, TextField

from .accounts import User
from .base import BaseModel, LeasedJob, iso, utcnow
from .projects import Project
from .words import Event, Status


class Build(LeasedJob):
    project = ForeignKeyField(Project, backref="builds", on_delete="CASCADE")
    # What its JUnit reports say (JSON: passed, failed, skipped, failedTests, unreadable); None: no report.
    test_report = TextField(null=True)
    status = CharField(max_length=16, default=Status.QUEUED, index=True)
    commit_message = TextField(null=True)
    branch = CharField(max_length=255)
    commit_author = CharField(max_length=255, null=True)
    commit_hash = CharField(max_length=64)
    exit_code = IntegerField(null=True)
    error = TextField(null=True)
    # When the record was created, as the API has always named it.
    started_at = DateTimeField(default=utcnow)
    # When a worker last took it up to run.
    run_started_at = DateTimeField(null=True)
    finished_at = DateTimeField(null=True)
    # GitHub's X-GitHub-Delivery id, so a redelivered push builds once.
    delivery_id = CharField(max_length=64, null=True)
    event = CharField(max_length=16, default=Event.PUSH)
    # The ref the commit was fetched by: refs/heads/<branch>, refs/tags/<tag>, or a pull (merge) request
    # head, refs/pull/<n>/head (refs/merge-requests/<n>/head on GitLab).
    ref = CharField(max_length=300, null=True)
    # The pull request it builds, as the API shows it (JSON), or null.
    pull_request = TextField(null=True)
    # A fork's pull request: never given the project's secrets, whoever approved it.
    fork = BooleanField(default=False)
    parent = ForeignKeyField("self", null=True, backref="rebuilds", on_delete="SET NULL")
    triggered_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    # Variables a manual or scheduled run gives the build (a JSON object), or null.
    variables = TextField(null=True)
    # The name of the schedule that made it, for a cron build.
    schedule = CharField(max_length=64, null=True)
    # The labels (JSON) its pipeline file asks its worker or agent to carry, once one that did not
    # handed it back; null: none asked, or not yet read.
    labels = TextField(null=True)
    # What the pushed branch pointed at before the push (for `when: path`); null for a new branch.
    before_hash = CharField(max_length=64, null=True)

    class Meta:
        # (project, id): a project's newest builds are read straight off the index, never sorted.
        indexes = ((("project", "delivery_id"), True), (("project", "id"), False))

    @property
    def full_ref(self):
        """The ref it was fetched by; a build from before refs were kept was its branch's push."""
        return self.ref or f"refs/heads/{self.branch}"

    def to_json(self, with_project=False):
        data = {
            "id": self.id,
            "status": self.status,
            "commit": self.commit_message,
            "branch": self.branch,
            "commitAuthor": self.commit_author,
            "commitHash": self.commit_hash,
            "exitCode": self.exit_code,
            "error": self.error,
            "projectId": self.project_id,
            "startedAt": iso(self.started_at),
            "runStartedAt": iso(self.run_started_at),
            "finishedAt": iso(self.finished_at),
            "event": self.event,
            "ref": self.full_ref,
            "pullRequest": json.loads(self.pull_request) if self.pull_request else None,
            "parentId": self.parent_id,
            "triggeredBy": self.triggered_by.username if self.triggered_by_id else None,
            "schedule": self.schedule,
            "testReport": json.loads(self.test_report) if self.test_report else None,
        }
        if with_project:
            data["project"] = self.project.summary_json()
        return data


class BuildStep(BaseModel):
    """One step of a build that ran from a .stoker.yml: how it ended and how long it took."""

    build = ForeignKeyField(Build, backref="steps", on_delete="CASCADE")
    position = IntegerField()
    name = CharField(max_length=100)
    status = CharField(max_length=16)
    exit_code = IntegerField(null=True)
    started_at = DateTimeField(null=True)
    finished_at = DateTimeField(null=True)
    # The matrix combination it ran for (a JSON object), or null.
    matrix = TextField(null=True)

    class Meta:
        indexes = ((("build", "position"), False),)

    def to_json(self):
        seconds = None
        if self.started_at and self.finished_at:
            seconds = round((self.finished_at - self.started_at).total_seconds(), 3)
        return {"name": self.name, "status": self.status, "exitCode": self.exit_code,
                "startedAt": iso(self.started_at), "finishedAt": iso(self.finished_at),
                "durationSeconds": seconds, "matrix": json.loads(self.matrix) if self.matrix else None}


class GithubStatus(BaseModel):
    """A commit status owed to GitHub for one build; kept until it is delivered or given up."""

    build = ForeignKeyField(Build, backref="github_statuses", on_delete="CASCADE")
    state = CharField(max_length=16)
    description = CharField(max_length=140)
    attempts = IntegerField(default=0)
    next_try_at = DateTimeField(default=utcnow, index=True)
    done = BooleanField(default=False, index=True)


class BuildLog(BaseModel):
    """One piece of a build's log: `length` UTF-8 bytes starting at byte `offset`."""

    build = ForeignKeyField(Build, backref="log_pieces", on_delete="CASCADE")
    offset = BigIntegerField()
    length = IntegerField()
    data = TextField()

    class Meta:
        indexes = ((("build", "offset"), True),)


class StepLog(BaseModel):
    """One piece of one step's own log (as BuildLog is of the build's): what
    GET /api/build/:id/logs?step=<name> reads, apart from the steps that ran beside it."""

    build = ForeignKeyField(Build, backref="step_log_pieces", on_delete="CASCADE")
    step = CharField(max_length=100)
    offset = BigIntegerField()
    length = IntegerField()
    data = TextField()

    class Meta:
        indexes = ((("build", "step", "offset"), True),)
