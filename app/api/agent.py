"""The agent API: what a build agent (`stoker agent`) calls with its token, and nothing else does.

An agent asks for work with a held request, answered the moment a build is queued; with a build it
receives what that build needs and nothing more (assignments.py), under a lease named for that one
claim. Everything it writes names the lease, and a lease taken over (the build queued again after the
agent went silent, or canceled and gone) is refused with a 409: an agent cut off and come back cannot
write into the build's new run.
"""
import json
import time
from datetime import datetime, timedelta, timezone
from pathlib import PurePosixPath
from urllib.parse import unquote

from flask import Blueprint, current_app, g, jsonify, request
from peewee import IntegrityError, fn

from pipeline.plan import MAX_TIMEOUT

from .. import runtime
from ..background import mail, retention
from ..background.assignments import assignment
from ..records import artifacts
from ..records.jobs import BUILD
from ..records.lifecycle import claim_next, ending, hand_back, move, renew_lease
from ..records.logs import TakenOver, append, append_note, append_to_step, insert_if_held, log_end
from ..records.models import Agent, BuildLog, BuildStep, Status, StepLog, db, utcnow
from ..records.vault import VaultError
from ..services import services
from .errors import ApiError
from .fields import labels_field
from .leases import SEEN_EVERY, an_agent, held
from .parsing import json_body, whole_number

bp = Blueprint("agent", __name__, url_prefix="/api/agent")

# The longest a request for work is held: well inside the idle timeouts of proxies on the way.
HOLD_SECONDS = 25
VERSION_LENGTH = 40
# The most a piece of log may carry; an agent sends at most pipeline.logstream.PIECE_BYTES.
MOST_PIECE_BYTES = 1024 * 1024
# Room past the log's cap for the line that says it was cut; the most steps a build keeps.
LOG_SLACK = 4096
MOST_STEPS = 1000
# How long past the longest timeout a build's renewals are still taken.
OVERTIME = timedelta(minutes=5)
# How long a build given to an agent waits for the agent to take it up (its first renewal, at once).
OFFER_SECONDS = 15
REASONS = (None, "timeout", "stopped", "canceled", "deleted", "lost", "log lost")


bp.before_request(an_agent)


@bp.post("/jobs/next")
def next_job():
    """A build to run, claimed for the agent under a new lease; 204 when none came within `wait`
    seconds (at most HOLD_SECONDS)."""
    data = json_body()
    wait = whole_number(data, "wait", 0, HOLD_SECONDS, default=HOLD_SECONDS)
    version = data.get("version")
    if version is not None and (not isinstance(version, str) or len(version) > VERSION_LENGTH
                                or not version.isprintable()):
        raise ApiError(400, f"version must be at most {VERSION_LENGTH} printable characters")
    concurrency = whole_number(data, "concurrency", 0, 1000, default=1)
    deadline = time.monotonic() + wait
    doorbell, config = services(current_app).doorbell, current_app.config
    while True:
        seen = doorbell.rings()
        db.connect(reuse_if_open=True)
        agent = Agent.get_or_none(Agent.id == g.agent.id)
        if agent is None:
            raise ApiError(401, "Invalid or revoked agent token")
        if ((agent.version, agent.concurrency) != (version, concurrency) or agent.last_seen_at is None
                or utcnow() - agent.last_seen_at > SEEN_EVERY):
            Agent.update(last_seen_at=utcnow(), version=version, concurrency=concurrency).where(
                Agent.id == agent.id).execute()
        if not agent.paused:
            found = _claim(agent, config)
            if found is not None:
                return found
        left = deadline - time.monotonic()
        if left <= 0:
            return "", 204
        # No connection is held while waiting: a hundred waiting agents hold none of the pool.
        db.close()
        doorbell.wait(seen, min(left, config["STOKER_POLL_SECONDS"]))


def _claim(agent, config):
    """A build offered to the agent: its id and lease alone. What it needs comes once the agent
    takes it up (start), so an offer dropped, or answered after its agent was gone, shows nothing."""
    lease = agent.new_lease()
    # Held until its agent takes it up, briefly: the agent may be gone already.
    build = claim_next(BUILD, lease, min(OFFER_SECONDS, config["STOKER_LEASE_SECONDS"]), carried=agent.label_list(),
                       taken_up=False)
    if build is None:
        return None
    if not Agent.select().where(Agent.id == agent.id).exists():
        # Revoked while it claimed: the revocation did not see this build, so it goes back here.
        move(BUILD, build.id, Status.QUEUED, expect=Status.RUNNING, owner=lease, worker_id=None, lease_expires_at=None)
        raise ApiError(401, "Invalid or revoked agent token")
    return jsonify(message=f"Build {build.id} is offered; take it up with start", lease=lease, buildId=build.id,
                   leaseSeconds=config["STOKER_LEASE_SECONDS"])


@bp.post("/jobs/<lease>/start")
def start(lease):
    """Take up an offered build: from now on it is the agent's to run (its lapse is a lost run), and
    the answer carries what it needs."""
    json_body()
    build = held(lease, Status.RUNNING)
    config = current_app.config
    if not renew_lease(BUILD, build.id, lease, config["STOKER_LEASE_SECONDS"]):
        raise ApiError(409, "This lease is no longer held")
    # A build run again keeps only what this run keeps.
    artifacts.forget_of(config, build.id)
    try:
        given = assignment(build, config, relayed=True)
    except VaultError as exc:
        move(BUILD, build.id, Status.FAILED, expect=Status.RUNNING, owner=lease, error=str(exc))
        raise ApiError(409, f"The build cannot be run: {exc}") from None
    # A build run again goes on with the same log (and its steps' logs), after what is kept.
    ends = {"": log_end(build.id), **dict(StepLog.select(StepLog.step, fn.MAX(StepLog.offset + StepLog.length))
                                           .where(StepLog.build == build.id).group_by(StepLog.step).tuples())}
    return jsonify(message=f"Build {build.id} is yours to run", logMaxBytes=config["STOKER_LOG_MAX_BYTES"],
                   logEnds=ends, labels=g.agent.label_list(), job=given)


@bp.post("/jobs/<lease>/log")
def write_log(lease):
    """A piece of the build's log (or one step's) at its byte offset; a piece sent again is kept once."""
    data = json_body()
    build = held(lease)
    offset = whole_number(data, "offset", 0, current_app.config["STOKER_LOG_MAX_BYTES"] + MOST_PIECE_BYTES)
    text, step = data.get("data"), data.get("step")
    if not isinstance(text, str) or not text or len(text.encode("utf-8", "surrogatepass")) > MOST_PIECE_BYTES:
        raise ApiError(400, f"data must be 1 byte to {MOST_PIECE_BYTES // 1024} KB of text")
    if step is not None and (not isinstance(step, str) or not 1 <= len(step) <= 100):
        raise ApiError(400, "step must be a step's name")
    raw = text.encode("utf-8", "replace")
    # Each piece goes at the end of what is kept, and no further than the cap (and the line saying so).
    if offset + len(raw) > current_app.config["STOKER_LOG_MAX_BYTES"] + LOG_SLACK:
        raise ApiError(413, "The log is past its cap")
    if step is not None and not StepLog.select().where((StepLog.build == build.id) & (StepLog.step == step)).exists() \
            and StepLog.select(StepLog.step).where(StepLog.build == build.id).distinct().count() >= MOST_STEPS:
        raise ApiError(409, f"A build keeps the logs of at most {MOST_STEPS} steps")
    end = log_end(build.id, step)
    if offset > end:
        raise ApiError(409, f"The log ends at byte {end}; a piece goes there")
    try:
        if offset < end:
            raise IntegrityError("sent before")
        if step is None:
            append(build.id, build.project_id, offset, raw, owner=lease)
        else:
            append_to_step(build.id, step, offset, raw, owner=lease)
    except TakenOver:
        raise ApiError(409, "This lease is no longer held") from None
    except IntegrityError:
        if step is None:
            kept = BuildLog.select(BuildLog.length).where((BuildLog.build == build.id) & (BuildLog.offset == offset))
        else:
            kept = StepLog.select(StepLog.length).where((StepLog.build == build.id) & (StepLog.step == step)
                                                        & (StepLog.offset == offset))
        kept = kept.scalar()
        if kept != len(raw):
            raise ApiError(409, f"Byte {offset} of the log holds something else") from None
    return jsonify(message="Kept", next=offset + len(raw))


@bp.post("/jobs/<lease>/steps")
def write_step(lease):
    """How one of the pipeline file's steps ended."""
    data = json_body()
    build = held(lease)
    name, status = data.get("name"), data.get("status")
    if not isinstance(name, str) or not 1 <= len(name) <= 100:
        raise ApiError(400, "name must be a step's name")
    if status not in (Status.PASSED, Status.FAILED, Status.SKIPPED):
        raise ApiError(400, "status must be passed, failed or skipped")
    exit_code = data.get("exitCode")
    if exit_code is not None:
        exit_code = whole_number(data, "exitCode", -1000, 1000)
    matrix = data.get("matrix")
    if matrix is not None and not _matrix_text(matrix):
        raise ApiError(400, "matrix must be a JSON object of names and values, at most 4 KB")
    if BuildStep.select().where(BuildStep.build == build.id).count() >= MOST_STEPS:
        raise ApiError(409, f"A build keeps at most {MOST_STEPS} steps")
    try:
        insert_if_held(BuildStep, lease, build.id, position=whole_number(data, "position", 0, 10_000), name=name,
                       status=status, exit_code=exit_code, started_at=_moment(data, "startedAt"),
                       finished_at=_moment(data, "finishedAt"), matrix=matrix)
    except IntegrityError:
        raise ApiError(409, "This lease is no longer held, or the step is kept already") from None
    return jsonify(message="Kept"), 201


def _matrix_text(text):
    try:
        value = json.loads(text) if isinstance(text, str) and len(text) <= 4096 else None
    except ValueError:
        return False
    return isinstance(value, dict) and all(isinstance(v, (str, int, float, bool)) for v in value.values())


def _moment(data, key):
    value = data.get(key)
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise ApiError(400, f"{key} must be an ISO 8601 time") from None
    return moment.astimezone(timezone.utc).replace(tzinfo=None) if moment.tzinfo else moment


@bp.post("/jobs/<lease>/renew")
def renew(lease):
    """Keep the lease; the answer says whether the build must stop (canceled)."""
    json_body()
    build = held(lease)
    if build.status == Status.CANCELED:
        return jsonify(message="Canceled", halt="canceled")
    # The agent keeps the build's time; the server holds it to the longest any build may take.
    if build.run_started_at and utcnow() - build.run_started_at > timedelta(seconds=MAX_TIMEOUT) + OVERTIME:
        move(BUILD, build.id, Status.FAILED, expect=Status.RUNNING, owner=lease,
             error=f"Timed out: ran past {MAX_TIMEOUT // 86400} days")
        raise ApiError(409, "This build ran past the longest a build may")
    if not renew_lease(BUILD, build.id, lease, current_app.config["STOKER_LEASE_SECONDS"]):
        raise ApiError(409, "This lease is no longer held")
    return jsonify(message="Renewed", halt=None)


@bp.post("/jobs/<lease>/artifacts")
def keep_artifact(lease):
    """One of the build's artifacts, its bytes the body (streamed into the store, never held whole),
    its name (percent-encoded UTF-8) in X-Artifact-Name; X-Artifact-Report: 1 for a JUnit report."""
    build = held(lease, Status.RUNNING)
    name = unquote(request.headers.get("X-Artifact-Name", ""), errors="strict") if request.headers.get(
        "X-Artifact-Name", "").isascii() else ""
    parts = PurePosixPath(name).parts
    if (not 1 <= len(name) <= 500 or not name.isprintable() or name.startswith("/") or ".." in parts
            or "\\" in name):
        raise ApiError(400, "X-Artifact-Name must be a relative path of the workspace, at most 500 characters")
    report = request.headers.get("X-Artifact-Report", "0")
    if report not in ("0", "1"):
        raise ApiError(400, "X-Artifact-Report must be 0 or 1")
    config = current_app.config
    request.max_content_length = config["STOKER_ARTIFACT_MAX_BYTES"]
    try:
        kept = artifacts.keep(config, build.id, name, request.stream, report == "1", owner=lease)
    except artifacts.NotKept as exc:
        raise ApiError(409, str(exc)) from None
    return jsonify(message="Kept", size=kept.size, sha256=kept.sha256), 201


@bp.post("/jobs/<lease>/finish")
def finish(lease):
    """How the run ended; the build's status follows, as a worker's would."""
    data = json_body()
    build = held(lease)
    exit_code = data.get("exitCode")
    if exit_code is not None:
        exit_code = whole_number(data, "exitCode", -1000, 1000)
    reason, error = data.get("reason"), data.get("error")
    if reason not in REASONS:
        raise ApiError(400, "reason must be one a run ends for")
    if error is not None and not isinstance(error, str):
        raise ApiError(400, "error must be a string")
    if data.get("labelsNeeded"):
        # Its pipeline file asks for labels this agent does not carry: back to the queue with them.
        needed = labels_field(data, "labelsNeeded")
        if set(needed) <= set(g.agent.label_list()):
            raise ApiError(400, "labelsNeeded are labels this agent carries")
        hand_back(build.id, lease, needed)
        return jsonify(message="Handed back", status=Status.QUEUED)
    texts = {key: data.get(key) for key in ("commitMessage", "commitAuthor")}
    if any(value is not None and not isinstance(value, str) for value in texts.values()):
        raise ApiError(400, "commitMessage and commitAuthor must be strings")
    status, error = ending(exit_code, data.get("skipped") is True, reason, error and error[:2000],
                           build.project.timeout_seconds)
    moved = move(BUILD, build.id, status, expect=Status.RUNNING, owner=lease, exit_code=exit_code, error=error,
                 commit_message=build.commit_message or (texts["commitMessage"] or "")[:2000] or None,
                 commit_author=build.commit_author or (texts["commitAuthor"] or "")[:200] or None)
    if moved is not None and reason == "log lost":
        append_note(moved, error)
    if moved is not None:
        runtime.spawn(_after, current_app._get_current_object(), build.id, build.project_id)
    return jsonify(message="Finished", status=(moved or build).status)


def _after(app, build_id, project_id):
    """What follows a build's end on a worker: the project's builds past what it keeps go, and its
    people hear of a failure."""
    with app.app_context():
        retention.prune(project_id, app.config)
        mail.tell(app, build_id)
