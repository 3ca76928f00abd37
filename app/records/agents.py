"""Build agents: hosts that run builds holding no key but a token of their own, and take their work
over the agent API (api/agent.py). A build an agent runs is held under a lease named for that one
claim, so that nothing written under an earlier claim counts once the build is claimed again."""
import hashlib
import json
import secrets

from peewee import BooleanField, CharField, DateTimeField, IntegerField, TextField

from .base import BaseModel, iso, utcnow


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

    @staticmethod
    def hash_of(value):
        return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()

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

    def label_list(self):
        return json.loads(self.labels)

    def to_json(self, running=()):
        return {"id": self.id, "name": self.name, "labels": self.label_list(), "paused": self.paused,
                "version": self.version, "concurrency": self.concurrency, "lastSeenAt": iso(self.last_seen_at),
                "createdAt": iso(self.created_at), "runningBuilds": list(running)}
