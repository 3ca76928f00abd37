"""Scheduled runs: a project's named cron lines, each due time making exactly one build.

Times are UTC. Whatever the number of processes, a due time is taken by a
compare-and-set on the schedule's `next_run_at`, in the same transaction as
the build it makes; a schedule missed while Stoker was down runs once when it
is back, not once per missed time.
"""
import json
import logging
import re

from croniter import CroniterError, croniter
from flask import Blueprint, jsonify

from pipeline.git import GitError

from .access import project_for
from .auth import require_login
from .errors import ApiError, json_body
from .jobs import BUILD
from .lifecycle import changes
from .models import Event, Project, Role, Schedule, db, utcnow
from .projects import branch_field, check_variables, head_of
from .rows import delete_row, put_row
from . import runtime
from .runtime import Periodic

log = logging.getLogger(__name__)

bp = Blueprint("schedules", __name__, url_prefix="/api/project")
bp.before_request(require_login)

SCHEDULE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
MAX_CRON_LENGTH = 100
MAX_SCHEDULES = 50
# How many due schedules a process resolves the branch heads of at once.
RESOLVED_AT_ONCE = 16


def next_time(cron, after):
    """The first time `cron` names after `after` (naive UTC, to the minute)."""
    return croniter(cron, after).get_next(type(after))


def check_cron(value):
    """The cron line, its fields one space apart, if it names a time that comes; else a 400."""
    if (not isinstance(value, str) or len(value) > MAX_CRON_LENGTH or len(value.split()) != 5
            or not value.isprintable() or not croniter.is_valid(value)):
        raise ApiError(400, "cron must be five fields (minute hour day month weekday), such as '0 3 * * *'")
    cron = " ".join(value.split())
    try:
        next_time(cron, utcnow())
    except CroniterError:
        # croniter reads "0 0 31 2 *" but finds no February 31st to run it on.
        raise ApiError(400, f"cron '{cron}' names no time that ever comes, such as the 31st of February") from None
    return cron


def schedule_name(name):
    if not SCHEDULE_NAME.fullmatch(name):
        raise ApiError(400, "A schedule's name must be 1 to 64 letters, digits, '_', '.' or '-', "
                            "starting with a letter or digit")
    return name


@bp.get("/projects/<project_id>/schedules")
def list_schedules(project_id):
    project = project_for(project_id)
    rows = Schedule.select().where(Schedule.project == project).order_by(Schedule.name)
    return jsonify(message="Schedules fetched", schedules=[row.to_json() for row in rows])


@bp.put("/projects/<project_id>/schedules/<name>")
def put_schedule(project_id, name):
    project = project_for(project_id, Role.ADMIN)
    name = schedule_name(name)
    data = json_body()
    cron = check_cron(data.get("cron"))
    branch = branch_field(data, project.branch)
    variables = check_variables(data, project)
    fields = {"cron": cron, "branch": branch, "variables": json.dumps(variables) if variables else None,
              "next_run_at": next_time(cron, utcnow())}

    def room_for_one_more():
        if Schedule.select().where(Schedule.project == project).count() >= MAX_SCHEDULES:
            raise ApiError(400, f"A project has at most {MAX_SCHEDULES} schedules")

    schedule, updated = put_row(Schedule, project, ("name", name), "schedule", fields,
                                before_create=room_for_one_more)
    return jsonify(message="Schedule saved", schedule=schedule.to_json()), 200 if updated else 201


@bp.delete("/projects/<project_id>/schedules/<name>")
def delete_schedule(project_id, name):
    project = project_for(project_id, Role.ADMIN)
    delete_row(Schedule, project, ("name", schedule_name(name)), "schedule")
    return jsonify(message="Schedule deleted")


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


FIRE_SCHEDULES = Periodic("firing schedules", fire_due, every=1.0, role="workers")
