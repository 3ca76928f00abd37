"""Outgoing webhooks: where a project's build outcomes are posted, and the outbox of what each target
is owed, written in the status change's own transaction and sent by app/background/hooks.py."""
import fnmatch
import json
import uuid

from flask import current_app
from peewee import BooleanField, CharField, DateTimeField, ForeignKeyField, IntegerField, TextField

from .base import BaseModel, iso, utcnow
from .builds import Build
from .projects import Project
from .words import Event, Status

# What a target may be told of: a build that failed, one that passed after the branch's last one
# failed, any that passed, one canceled.
OUTCOMES = ("failed", "fixed", "passed", "canceled")
# The builds targets hear of: a branch's own.
BRANCH_EVENTS = (Event.PUSH, Event.MANUAL, Event.CRON)


class ProjectHook(BaseModel):
    """A target of a project's: an address outside the server, the outcomes and branches (glob
    patterns; none: every branch) it is for, and the secret its deliveries are signed with, sealed."""

    project = ForeignKeyField(Project, backref="hooks", on_delete="CASCADE")
    url = CharField(max_length=2048)
    outcomes = TextField()
    branches = TextField(default="[]")
    secret_sealed = TextField()
    created_at = DateTimeField(default=utcnow)

    @property
    def outcome_list(self):
        return json.loads(self.outcomes)

    @property
    def branch_list(self):
        return json.loads(self.branches)

    def wants(self, outcome, branch):
        # A target of passed builds hears of fixed ones too: a fix is a pass.
        said = outcome in self.outcome_list or (outcome == "fixed" and "passed" in self.outcome_list)
        return said and (not self.branch_list or any(fnmatch.fnmatchcase(branch, pattern)
                                                      for pattern in self.branch_list))

    def to_json(self):
        last = self.deliveries.order_by(HookDelivery.id.desc()).first()
        return {"id": self.id, "url": self.url, "outcomes": self.outcome_list, "branches": self.branch_list,
                "createdAt": iso(self.created_at), "lastDelivery": last and last.to_json()}


class HookDelivery(BaseModel):
    """One body a target is owed, with its tries: kept until it is taken (2xx) or given up."""

    hook = ForeignKeyField(ProjectHook, backref="deliveries", on_delete="CASCADE")
    build = ForeignKeyField(Build, null=True, backref="hook_deliveries", on_delete="CASCADE")
    outcome = CharField(max_length=16)
    # Fixed when it is owed, so that every try sends (and signs) the same bytes.
    body = TextField()
    # Sent as X-Stoker-Delivery: the same on every try, so a target can tell a retry from news.
    delivery_id = CharField(max_length=36, default=lambda: str(uuid.uuid4()))
    attempts = IntegerField(default=0)
    next_try_at = DateTimeField(default=utcnow, index=True)
    done = BooleanField(default=False, index=True)
    # The last try: the target's HTTP status, or why there was none.
    answered = IntegerField(null=True)
    problem = CharField(max_length=300, null=True)
    created_at = DateTimeField(default=utcnow)
    delivered_at = DateTimeField(null=True)

    def to_json(self):
        return {"id": self.delivery_id, "outcome": self.outcome, "buildId": self.build_id, "attempts": self.attempts,
                "delivered": self.delivered_at is not None, "pending": not self.done, "answered": self.answered,
                "problem": self.problem, "createdAt": iso(self.created_at), "deliveredAt": iso(self.delivered_at)}


def outcome_of(build):
    """What a finished build of a branch is, as targets are told: None for an end no target hears of.
    A pull request's or a tag's is not a branch's (a fork names its branch as it likes)."""
    if build.event not in BRANCH_EVENTS:
        return None
    if build.status == Status.FAILED:
        return "failed"
    if build.status == Status.CANCELED:
        return "canceled"
    if build.status != Status.PASSED:
        return None
    before = (Build.select(Build.status)
              .where((Build.project == build.project_id) & (Build.branch == build.branch)
                     & Build.event.in_(BRANCH_EVENTS) & Build.status.in_((Status.PASSED, Status.FAILED))
                     & (Build.id < build.id))
              .order_by(Build.id.desc()).first())
    return "fixed" if before is not None and before.status == Status.FAILED else "passed"


def body_of(outcome, build, project, event="build"):
    """What a target is sent: the build and its project as the API shows them, and its page."""
    return json.dumps({"event": event, "outcome": outcome, "build": build and build.to_json(with_project=True),
                       "project": project.summary_json(),
                       "url": build and f"{current_app.config['STOKER_PUBLIC_URL']}/builds/{build.id}"})


def owe(build, project):
    """Owe each of the project's targets that wants it word of the build's end."""
    if build.status not in Status.FINISHED:
        return
    targets = list(ProjectHook.select().where(ProjectHook.project == project.id))
    outcome = outcome_of(build) if targets else None
    wanting = [hook for hook in targets if outcome and hook.wants(outcome, build.branch)]
    if wanting:
        body = body_of(outcome, build, project)
        HookDelivery.insert_many([{"hook": hook.id, "build": build.id, "outcome": outcome, "body": body,
                                   "delivery_id": str(uuid.uuid4())} for hook in wanting]).execute()
