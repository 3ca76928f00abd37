"""Firing schedules: each due time of a project's cron line makes one build of its branch head,
however many processes look (a compare-and-set on the due time)."""
import logging

from pipeline.git import GitError

from .. import runtime
from ..records.cron import next_time
from ..records.jobs import BUILD
from ..records.lifecycle import changes
from ..records.models import Event, Project, Schedule, db, utcnow
from ..records.remotes import head_of
from ..runtime import Periodic

log = logging.getLogger(__name__)

# How many due schedules a process resolves the branch heads of at once.
RESOLVED_AT_ONCE = 16


def fire_due(app):
    """Make the build of every schedule that is due; return how many this process made."""
    with app.app_context(), db.connection_context():
        now = utcnow()
        due = list(Schedule.select(Schedule, Project).join(Project).where(Schedule.next_run_at <= now))
    by_project = {}
    for schedule in due:
        by_project.setdefault(schedule.project_id, []).append(schedule)
    # Projects side by side, each one's schedules in turn: a remote that takes its time (or all of
    # STOKER_GIT_TIMEOUT) holds back no other project's schedule, and one project takes one place.
    return sum(runtime.each_at_once(lambda schedules: _fire_project(app, schedules, now), list(by_project.values()),
                                    RESOLVED_AT_ONCE))


def _fire_project(app, schedules, now):
    """Fire one project's due schedules, each branch's head found once, with no database connection
    held while git asks the remote."""
    heads, made = {}, 0
    with app.app_context():
        for schedule in schedules:
            if schedule.branch not in heads:
                heads[schedule.branch] = _head(app, schedule)
            with db.connection_context():
                made += _fire(schedule, heads[schedule.branch], now)
    return made


def _head(app, schedule):
    try:
        return head_of(app.config, schedule.project, schedule.branch)
    except GitError as exc:
        log.warning("schedule %s of project %s cannot build branch %s: %s", schedule.name, schedule.project_id,
                    schedule.branch, exc)
        return None


def _fire(schedule, head, now):
    with changes() as batch:
        # Taken by this process alone: another that read the same due time changes nothing here.
        taken = Schedule.update(next_run_at=next_time(schedule.cron, now), last_run_at=now).where(
            (Schedule.id == schedule.id) & (Schedule.next_run_at == schedule.next_run_at)).execute()
        if not taken or head is None:
            return 0
        batch.queue(BUILD, project=schedule.project_id, commit_hash=head, branch=schedule.branch, event=Event.CRON,
                    ref=f"refs/heads/{schedule.branch}", variables=schedule.variables, schedule=schedule.name)
    return 1


# Any process (each firing is a compare-and-set): a server whose builds run on agents has no workers.
FIRE_SCHEDULES = Periodic("firing schedules", fire_due, every=1.0, role="all")
