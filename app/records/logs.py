"""Build logs: kept in the database in order, each piece emitted to the owner once saved.

Offsets are byte offsets into the UTF-8 log. Output is normalised to valid
UTF-8 when it is written, and pieces only ever end on a character boundary,
so a client that adds up the byte lengths of what it received always holds
the right offset to ask for the rest.
"""
import logging
from contextlib import contextmanager

from flask import current_app
from peewee import DatabaseError, IntegrityError, Value, fn

from pipeline.logstream import LogStream

from ..services import services
from .models import Build, BuildLog, Member, StepLog, db

log = logging.getLogger(__name__)

class TakenOver(IntegrityError):
    """The build is no longer the writer's: its lease names another worker, or it is gone."""


def insert_if_held(model, owner, build_id, **row):
    """Insert `row` for the build if `owner` is None or the build's lease still names it, else raise
    TakenOver: one statement, so no write comes between the look and the insert."""
    if owner is None:
        model.create(build=build_id, **row)
        return
    fields = [model.build, *(getattr(model, name) for name in row)]
    held = Build.select(Value(build_id), *(Value(value) for value in row.values())).where(
        (Build.id == build_id) & (Build.worker_id == owner))
    if db.execute(model.insert_from(held, fields)).rowcount != 1:
        raise TakenOver(f"build {build_id} is not held by {owner}")


class LogWriter(LogStream):
    """A build's log (or one step's) kept in the database and emitted to the build's people."""

    def __init__(self, app, build_id, cap, mask=None, step=None, owner=None):
        self.app, self.build_id = app, build_id
        # The worker whose lease the build must still be under for a piece to be kept (None: any).
        self.owner = owner
        # A step's own log is kept apart from the build's, and not emitted: the build's log says it all.
        self.step = step
        super().__init__(cap, mask, name=f"log-{build_id}")

    @contextmanager
    def saving(self):
        with self.app.app_context():
            yield

    def start(self):
        with db.connection_context():
            self.project_id = project_of(self.build_id)
            # A build run again after its worker was lost goes on with the same log.
            return log_end(self.build_id, self.step)

    def save(self, offset, data):
        try:
            try:
                return self._append(offset, data)
            except TakenOver:
                raise
            except IntegrityError:
                # A line of Stoker's own took this offset meanwhile: go on after it.
                with db.connection_context():
                    return self._append(log_end(self.build_id, self.step), data)
        except IntegrityError:
            # Another worker holds the build now, or it is gone: this one lost it.
            log.warning("build %s: log taken over; dropping this worker's output", self.build_id)
        except (DatabaseError, OSError) as exc:
            # A full disk, say: the rest is dropped (and the queue still drained), and the build
            # cannot pass with a log that silently stops.
            log.error("build %s: its log could not be kept from byte %s on: %s", self.build_id, offset, exc)
            self.lost = f"the build's log could not be kept from byte {offset} on ({exc})"
        return None

    def _append(self, offset, data):
        if self.step is None:
            return append(self.build_id, self.project_id, offset, data, self.owner)
        return append_to_step(self.build_id, self.step, offset, data, self.owner)


def project_of(build_id):
    return Build.select(Build.project).where(Build.id == build_id).scalar()


def log_end(build_id, step=None):
    """The byte length of what is saved of a build's log (or one step's)."""
    if step is not None:
        return (StepLog.select(fn.MAX(StepLog.offset + StepLog.length))
                .where((StepLog.build == build_id) & (StepLog.step == step)).scalar()) or 0
    end = (BuildLog.select(fn.MAX(BuildLog.offset + BuildLog.length))
           .where(BuildLog.build == build_id).scalar())
    return end or 0


def append_to_step(build_id, step, offset, data, owner=None):
    with db.connection_context():
        insert_if_held(StepLog, owner, build_id, step=step, offset=offset, length=len(data), data=data.decode())
    return offset + len(data)


def append(build_id, project_id, offset, data, owner=None):
    """Save `data` (UTF-8 bytes) at byte `offset` of the log (only while `owner`, if given, holds the
    build), emit it to the project's members as they are now, and return the new end."""
    text = data.decode()
    with db.connection_context():
        insert_if_held(BuildLog, owner, build_id, offset=offset, length=len(data), data=text)
        members = Member.user_ids(project_id)
    services(current_app).announce(current_app, members, "buildLog", {"buildId": build_id, "offset": offset, "data": text})
    return offset + len(data)


def append_note(build, line):
    """Add one line of Stoker's own to the end of a build's log."""
    append(build.id, build.project_id, log_end(build.id), f"\n==> {line}\n".encode())


def read_log(build_id, offset, step=None):
    """Return the build's log (or one step's) from byte `offset` to what has been saved so far."""
    model = BuildLog if step is None else StepLog
    condition = (model.build == build_id) & (model.offset + model.length > offset)
    if step is not None:
        condition &= StepLog.step == step
    pieces = list(model.select(model.offset, model.data).where(condition).order_by(model.offset))
    if not pieces:
        return b""
    joined = b"".join(piece.data.encode() for piece in pieces)
    return joined[max(0, offset - pieces[0].offset):]


# How many pieces of a log are read at once when it is streamed whole (each at most about 1 MB).
PIECES_AT_ONCE = 8


def log_pieces(build_id, start, stop, step=None):
    """Bytes `start` to `stop` of the build's log (or one step's), as UTF-8 bytes, a few pieces at a
    time, each read on a connection of its own: a log of any size is never held whole."""
    model = BuildLog if step is None else StepLog
    mine = model.build == build_id
    if step is not None:
        mine &= StepLog.step == step
    at = start
    with db.connection_context():
        # The piece `start` falls in, found once; after it each page goes on by the index from the
        # last piece read, never scanning the log from its start again.
        after = model.select(fn.MAX(model.offset)).where(mine & (model.offset <= start)).scalar() or 0
    while at < stop:
        with db.connection_context():
            rows = list(model.select(model.offset, model.data)
                        .where(mine & (model.offset >= after) & (model.offset < stop))
                        .order_by(model.offset).limit(PIECES_AT_ONCE))
        if not rows:
            return
        for row in rows:
            data = row.data.encode()
            if row.offset + len(data) > at:
                piece = data[max(at - row.offset, 0):stop - row.offset]
                at = row.offset + min(len(data), stop - row.offset)
                yield piece
        after = rows[-1].offset + 1
