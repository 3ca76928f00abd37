"""Builds: read one, queue it again, cancel it, approve or decline a blocked one, or delete one."""
import re

from flask import Blueprint, Response, current_app, jsonify, request, stream_with_context

from ..records import artifacts, lifecycle, links
from ..records.agents import queue_reason
from ..records.artifacts import BuildArtifact
from ..records.jobs import BUILD
from ..records.lifecycle import queue_build
from ..records.logs import log_end, log_pieces, read_log
from ..records.models import Build, BuildStep, Role, Status, db
from .access import audit, build_for
from .callers import current_user, require_login
from .errors import ApiError

bp = Blueprint("builds", __name__, url_prefix="/api/build")
bp.before_request(require_login)

# What of a step's name goes into a file name as it is.
SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")


@bp.get("/<build_id>")
def get_build(build_id):
    build = build_for(build_id)
    steps = [step.to_json() for step in build.steps.order_by(BuildStep.position, BuildStep.id)]
    body = {**build.to_json(with_project=True), "steps": steps,
            "queueReason": queue_reason(build, current_app.config["STOKER_WORKER_LABELS"])}
    body["project"]["role"] = build.role
    kept = BuildArtifact.select().where(BuildArtifact.build == build.id).order_by(BuildArtifact.name)
    body["artifacts"] = [artifact.to_json(links.url_for_artifact(current_app, artifact)) for artifact in kept]
    return jsonify(message="Build fetched", build=body)


# A copy in every way that decides what a build runs and may see: a rebuilt fork build is still one.
COPIED_BY_A_REBUILD = ("commit_hash", "branch", "commit_message", "commit_author", "event", "ref", "pull_request",
                       "fork", "variables", "before_hash", "schedule")


@bp.post("/rebuild/<build_id>")
def rebuild(build_id):
    original = build_for(build_id, Role.WRITE)
    build = queue_build(original.project, parent=original.id, triggered_by=current_user.id,
                        **{name: getattr(original, name) for name in COPIED_BY_A_REBUILD})
    audit(original.project, "build.rebuild", original.id)
    return jsonify(message="Build re-queued", build=build.to_json()), 201


@bp.post("/<build_id>/approve")
def approve(build_id):
    """Let a blocked build (a fork's pull request) run: it gets a way out (see has_way_out), still no secret."""
    return _settle(build_id, Status.QUEUED, "approve")


@bp.post("/<build_id>/decline")
def decline(build_id):
    return _settle(build_id, Status.DECLINED, "decline")


def _settle(build_id, status, action):
    """Move a blocked build on, as the caller decided; 409 unless it was blocked."""
    blocked = build_for(build_id, Role.WRITE)
    build = lifecycle.move(BUILD, blocked.id, status, expect=Status.BLOCKED, triggered_by=current_user.id)
    if build is None:
        raise ApiError(409, f"Only a blocked build can be {action}d")
    audit(blocked.project, f"build.{action}", blocked.id)
    return jsonify(message=f"Build {action}d", build=build.to_json())


@bp.post("/<build_id>/cancel")
def cancel(build_id):
    running = build_for(build_id, Role.WRITE)
    build = lifecycle.cancel(BUILD, running.id, reason=f"canceled by {current_user.username}")
    if build is None:
        raise ApiError(409, "Build has already finished")
    audit(running.project, "build.cancel", running.id)
    return jsonify(message="Build canceled", build=build.to_json())


@bp.delete("/<build_id>")
def delete_build(build_id):
    """Delete a finished build with its log, steps and statuses (a log that shows what it should
    not, say); a build it was rebuilt as stays, without its parent."""
    build = build_for(build_id, Role.ADMIN)
    with db.atomic():
        if not Build.delete().where((Build.id == build.id) & Build.status.in_(Status.FINISHED)).execute():
            raise ApiError(409, "Only a finished build can be deleted; cancel it first")
        audit(build.project, "build.delete", build.id)
    artifacts.remove_of(current_app.config, [build.id])
    return jsonify(message="Build deleted")


@bp.get("/<build_id>/logs")
def logs(build_id):
    """The build's log from byte `offset` on, as plain text, with the offset to ask for next."""
    build = build_for(build_id)
    offset = request.args.get("offset", "0")
    if not (offset.isascii() and offset.isdecimal() and len(offset) <= 18):
        raise ApiError(400, "offset must be a non-negative integer")
    step = request.args.get("step")
    if step is not None and not (0 < len(step) <= 100 and step.isprintable()):
        raise ApiError(400, "step must be a step's name")
    shape = request.args.get("format")
    if shape == "text":
        return _log_file(build, step)
    if shape is not None:
        raise ApiError(400, "format must be text (the log as a file to download)")
    offset = int(offset)
    data = read_log(build.id, offset, step)
    # Past the end, the end: a client asking from there learns where the log really is.
    after = offset + len(data) if data else min(offset, log_end(build.id, step))
    return Response(data, content_type="text/plain; charset=utf-8", headers={
        "X-Log-Next-Offset": str(after),
        "X-Build-Status": build.status,
    })


def _log_file(build, step):
    """The log (or a step's) as it is now, as a file, streamed a few pieces at a time: resumable
    with a Range of bytes, and never held whole."""
    total = log_end(build.id, step)
    name = f"build-{build.id}" + (f"-{SAFE_NAME.sub('_', step)}" if step else "") + ".log"
    headers = {"Content-Disposition": f'attachment; filename="{name}"', "Accept-Ranges": "bytes",
               "X-Build-Status": build.status}
    asked = request.range
    # One range is served; several (rare, and a way to make a server repeat itself) get the whole file.
    if asked is not None and len(asked.ranges) == 1:
        span = asked.range_for_length(total)
        if span is None:
            return Response(status=416, headers={**headers, "Content-Range": f"bytes */{total}"})
        start, stop = span
        headers["Content-Range"] = f"bytes {start}-{stop - 1}/{total}"
        status = 206
    else:
        start, stop, status = 0, total, 200
    headers.update({"Content-Length": str(stop - start), "X-Log-Next-Offset": str(stop)})
    return Response(stream_with_context(log_pieces(build.id, start, stop, step)), status=status,
                    content_type="text/plain; charset=utf-8", headers=headers)
