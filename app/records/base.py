"""What every record shares: the database (chosen at start), ids never given twice, times in UTC."""
import hashlib

from peewee import (
    SQL,
    AutoField,
    CharField,
    DatabaseProxy,
    DateTimeField,
    IntegerField,
    Model,
    NodeList,
    SqliteDatabase,
)

# Every stored time is by the clock builds' steps are stamped by too; the records take it from here.
from pipeline.clock import utcnow as utcnow

db = DatabaseProxy()


def iso(moment):
    """Format a stored UTC time as ISO 8601 with milliseconds and a Z, or None."""
    if moment is None:
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class IdField(AutoField):
    """An id never given twice: SQLite would hand a deleted newest row's id to the next row (and
    with it whatever still pointed at the old one) unless its table says AUTOINCREMENT.
    PostgreSQL's sequences never go back."""

    def ddl(self, ctx):
        made = super().ddl(ctx)
        return NodeList((made, SQL("AUTOINCREMENT"))) if isinstance(db.obj, SqliteDatabase) else made


class BaseModel(Model):
    id = IdField()

    class Meta:
        database = db


class LeasedJob(BaseModel):
    """What every kind of job a worker takes carries (see app/jobs.py): the worker that holds it
    and until when, and how often a lost worker's run of it was queued again. No table of its own."""

    worker_id = CharField(max_length=128, null=True)
    # The running worker renews this; past it, the job is taken back (see lifecycle.recover_lost).
    lease_expires_at = DateTimeField(null=True)
    attempts = IntegerField(default=0)
    # When its holder took it up: at once for a worker; for an agent, when it first says it runs it
    # (an agent's request for work may be answered after the agent is gone: see recover_lost).
    taken_up_at = DateTimeField(null=True)


def secret_hash(value):
    """What is kept of a token: enough to recognise it, not to use it."""
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()
