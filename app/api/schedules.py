"""Scheduled runs: a project's named cron lines, each due time making exactly one build.

Times are UTC. Whatever the number of processes, a due time is taken by a
compare-and-set on the schedule's `next_run_at`, in the same transaction as
the build it makes; a schedule missed while Stoker was down runs once when it
is back, not once per missed time.
"""
import json
import re

from croniter import CroniterError, croniter
from flask import Blueprint, jsonify

from ..records.cron import next_time
from ..records.models import Role, Schedule, utcnow
from .access import project_for
from .callers import require_login
from .errors import ApiError
from .fields import branch_field, check_variables
from .parsing import json_body
from .rows import delete_row, put_row

bp = Blueprint("schedules", __name__, url_prefix="/api/project")
bp.before_request(require_login)

SCHEDULE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
MAX_CRON_LENGTH = 100
MAX_SCHEDULES = 50


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
