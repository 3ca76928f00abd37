"""Checking a pipeline file as a build would read it, before it is pushed (`stoker lint`)."""
from flask import Blueprint, jsonify

from pipeline.plan import PlanError, parse
from pipeline.runner import MAX_PLAN_BYTES

from .. import runtime
from .callers import require_login
from .errors import ApiError
from .parsing import json_body

bp = Blueprint("lint", __name__, url_prefix="/api")
bp.before_request(require_login)


@bp.post("/lint")
def lint():
    """`{"text"}`: whether it is a pipeline file a build can follow, and if not, what is wrong and on
    which line (the first problem the reader meets)."""
    text = json_body().get("text")
    if not isinstance(text, str) or len(text.encode()) > MAX_PLAN_BYTES:
        raise ApiError(400, f"text must be the pipeline file's text, at most {MAX_PLAN_BYTES // 1024} KB")
    try:
        # A hostile file is bounded by the reader, and read off the hub: it holds no other request.
        plan = runtime.off_the_hub(parse, text)
    except PlanError as exc:
        return jsonify(message="Not a pipeline file a build can follow", valid=False,
                       problems=[{"line": _line(str(exc)), "message": str(exc)}])
    return jsonify(message="A pipeline file a build can follow", valid=True, problems=[], steps=len(plan.steps))


def _line(message):
    """The line a PlanError names (".stoker.yml line 3: ..."), if it names one."""
    head = message.split(":", 1)[0]
    number = head.rsplit(" line ", 1)[1] if " line " in head else ""
    return int(number) if number.isdecimal() else None
