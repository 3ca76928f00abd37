"""Forges' webhooks: a verified push or pull request the project takes in becomes one build."""
import json
import re

from flask import Blueprint, jsonify, request
from peewee import IntegrityError

from pipeline.globs import matches

from ..forges import FORGES
from ..forges.events import BadDelivery, Delete, Ping, PullRequestClosed, Push
from ..records.jobs import BUILD
from ..records.lifecycle import cancel_superseded, cancel_unfinished, changes
from ..records.models import Build, Event, ForkPolicy, Project, Status
from .errors import ApiError
from .parsing import parse_json, path_id, request_body

bp = Blueprint("webhooks", __name__, url_prefix="/api/webhooks")

SKIP_CI = re.compile(r"\[(skip ci|ci skip)\]", re.IGNORECASE)


def read_payload(body):
    """The delivery's JSON object, sent as JSON or, as GitHub may, form-encoded in a `payload` field."""
    if request.mimetype == "application/x-www-form-urlencoded":
        body = request.form.get("payload", "")
    return parse_json(body, "Webhook body")


def push_change(push, project):
    """Return the build fields a push asks for, or a string saying why it builds nothing."""
    ref = push.ref
    if ref.startswith("refs/tags/"):
        if not project.tags:
            return "tag pushes are not built"
        event, name = Event.TAG, ref[len("refs/tags/"):]
    elif ref.startswith("refs/heads/"):
        event, name = Event.PUSH, ref[len("refs/heads/"):]
        if not matches(project.branch_patterns, name):
            return f"push to {ref[:200]}, which the project's branches do not take in"
    else:
        return f"push to {ref[:200]}, neither a branch nor a tag"
    if push.message and SKIP_CI.search(push.message):
        return "the head commit asks to skip CI"
    return {"commit_hash": push.after, "commit_message": push.message, "commit_author": push.author,
            "event": event, "ref": ref, "branch": name, "before_hash": push.before}


def pull_request_change(pull, project, forge):
    """The build fields a pull request asks for, or a string saying why it builds nothing."""
    if not project.pull_requests:
        return "pull requests are not built"
    if not matches(project.branch_patterns, pull.base_branch):
        return f"pull request into {pull.base_branch[:200]}, which the project's branches do not take in"
    if pull.fork and project.fork_pull_requests == ForkPolicy.IGNORE:
        return "pull requests from forks are not built"
    if SKIP_CI.search(pull.title):
        return "the pull request's title asks to skip CI"
    return {
        "commit_hash": pull.head_sha,
        "event": Event.PULL_REQUEST,
        "ref": forge.PULL_REF.format(number=pull.number),
        "branch": pull.head_branch,
        "fork": pull.fork,
        "pull_request": json.dumps({
            "number": pull.number, "title": pull.title, "url": pull.url, "baseBranch": pull.base_branch,
            "headRepo": pull.head_repo, "fork": pull.fork,
        }),
        "status": Status.BLOCKED if pull.fork and project.fork_pull_requests == ForkPolicy.APPROVE else Status.QUEUED,
    }


@bp.post("/<forge>/<project_id>")
def deliver(forge, project_id):
    """A forge's delivery for one project: a verified push or pull request it takes in becomes one build."""
    # 1. The forge, and the project whose secret must have signed this delivery.
    if forge not in FORGES:
        raise ApiError(404, "No such forge")
    project = Project.get_or_none(Project.id == path_id(project_id, "projectId", "Project"))
    # Each project hears its own forge alone: another's deliveries are proven another way.
    if project is None or project.forge != forge:
        raise ApiError(404, "Project not found")
    forge = FORGES[forge]
    # 2. The signature covers the raw bytes; nothing in them is read before it is checked.
    body = request_body()
    if not forge.verify(project.webhook_secret, request.headers, body):
        raise ApiError(401, forge.REFUSED)
    # 3. The forge's words made neutral: pushes the project's branches (or tags) take in, and pull
    #    requests into them, build.
    try:
        said = forge.read(request.headers, lambda: read_payload(body))
    except BadDelivery as exc:
        raise ApiError(400, str(exc)) from None
    if isinstance(said, Ping):
        return jsonify(message="Pong")
    if isinstance(said, Delete):
        return jsonify(message="Ignored: the push deletes a branch or tag")
    if isinstance(said, PullRequestClosed):
        canceled = cancel_unfinished(project.id, forge.PULL_REF.format(number=said.number),
                                     reason=f"pull request #{said.number} was closed")
        return jsonify(message=f"Pull request closed: {len(canceled)} build(s) canceled")
    change = said if isinstance(said, str) else (
        push_change(said, project) if isinstance(said, Push) else pull_request_change(said, project, forge))
    if isinstance(change, str):
        return jsonify(message=f"Ignored: {change}")
    # 4. A delivery the forge sends again is answered with the build it already made.
    delivery = forge.delivery_id(request.headers)
    try:
        with changes() as batch:
            build = batch.queue(BUILD, project=project, delivery_id=delivery, **change)
    except IntegrityError:
        build = Build.get((Build.project == project) & (Build.delivery_id == delivery))
        return jsonify(message="Build already queued for this delivery", build=build.to_json())
    if project.auto_cancel:
        cancel_superseded(build)
    elif build.event == Event.PULL_REQUEST:
        # A pull request's new commit makes its older ones moot: those still waiting never start, so
        # a stream of pushes to one pull request cannot fill the queue ahead of other projects.
        cancel_superseded(build, waiting_only=True)
    return jsonify(message="Build queued", build=build.to_json()), 202

