"""Build agents: hosts that run builds holding no key but a token of their own, and take their work
over the agent API (api/agent.py). A build an agent runs is held under a lease named for that one
claim, so that nothing written under an earlier claim counts once the build is claimed again."""
import json
import secrets
from datetime import timedelta

from peewee import BooleanField, CharField, DateTimeField, IntegerField, TextField

from .base import BaseModel, iso, secret_hash, utcnow
from .builds import Build
from .words import Status


class Agent(BaseModel):
    name = CharField(max_length=100, unique=True)
    # The labels a build must find all of on an agent to be sent there ("arch=arm64", "gpu").
    labels = TextField(default="[]")
    token_hash = CharField(max_length=64, unique=True)
    # A paused agent finishes what it runs and takes nothing new.
    paused = BooleanField(default=False)
    version = CharField(max_length=40, null=True)
    concurrency = IntegerField(default=0)
    last_seen_at = DateTimeField(null=True)
    created_at = DateTimeField(default=utcnow)

    PREFIX = "sta_"

    hash_of = staticmethod(secret_hash)

    @classmethod
    def new_token(cls):
        return cls.PREFIX + secrets.token_urlsafe(32)

    @classmethod
    def of_token(cls, value):
        if not isinstance(value, str) or not value.startswith(cls.PREFIX) or len(value) > 200:
            return None
        return cls.get_or_none(cls.token_hash == cls.hash_of(value))

    def lease_prefix(self):
        return f"agent:{self.id}:"

    def new_lease(self):
        """The name one claim of a build by this agent is held under."""
        return self.lease_prefix() + secrets.token_hex(12)

    def running(self):
        """Its builds running now, as (id, lease) rows."""
        return Build.select(Build.id, Build.worker_id).where(
            (Build.status == Status.RUNNING) & Build.worker_id.startswith(self.lease_prefix()))

    def label_list(self):
        return json.loads(self.labels)

    def to_json(self, running=()):
        return {"id": self.id, "name": self.name, "labels": self.label_list(), "paused": self.paused,
                "version": self.version, "concurrency": self.concurrency, "lastSeenAt": iso(self.last_seen_at),
                "createdAt": iso(self.created_at), "runningBuilds": list(running)}


# An agent that asked for work, or wrote for a build, this recently is live (its requests for work
# are held for 25 s at most, and a busy one renews its builds' leases far more often).
LIVE_SECONDS = 60


def queue_reason(build, worker_labels=()):
    """Why a build that has not started waits, in a sentence; None for one that has."""
    if build.status == Status.BLOCKED:
        return "Waiting for approval: a fork's pull request runs once someone with write access lets it"
    if build.status != Status.QUEUED:
        return None
    project = build.project
    if project.concurrency is not None:
        running = [build_id for (build_id,) in Build.select(Build.id).where(
            (Build.project == project.id) & (Build.status == Status.RUNNING)).order_by(Build.id).tuples()]
        if len(running) >= project.concurrency:
            return (f"Waiting behind the project's concurrency of {project.concurrency}: "
                    f"{', '.join(f'#{n}' for n in running)} running")
    needed = {*(json.loads(project.agent_labels) if project.agent_labels else ()),
              *(json.loads(build.labels) if build.labels else ())}
    if needed and not needed <= set(worker_labels):
        live = Agent.select().where((Agent.last_seen_at > utcnow() - timedelta(seconds=LIVE_SECONDS))
                                    & ~Agent.paused)
        if not any(needed <= set(agent.label_list()) for agent in live):
            return f"No live agent carries its labels ({', '.join(sorted(needed))})"
    busy = Build.select().where(Build.status == Status.RUNNING).count()
    return f"Waiting for a free worker or agent ({busy} build{'' if busy == 1 else 's'} running)"
