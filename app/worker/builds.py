"""Running one claimed CI build: its checkout and steps in pipeline/, its log and steps kept here."""
import json
import logging

from peewee import DatabaseError, IntegrityError

from pipeline.runner import ArtifactNotKept, BuildJob, about, run_watched

from ..background import mail, retention
from ..background.assignments import assignment
from ..records import artifacts
from ..records.jobs import BUILD
from ..records.lifecycle import ending, hand_back, move
from ..records.logs import LogWriter, append_note, insert_if_held
from ..records.models import BuildStep, Status, db
from ..records.vault import VaultError, pin_host_key
from .watch import Watch

log = logging.getLogger(__name__)



def run_build(worker, runner, build):
    """Run a build `worker` has claimed, with `runner`, under watch, and record how it ended."""
    with about(build.id):
        _run_build(worker, runner, build)


def _run_build(worker, runner, build):
    config = worker.app.config
    with db.connection_context():
        try:
            given = assignment(build, config)
        except VaultError as exc:
            move(BUILD, build.id, Status.FAILED, expect=Status.RUNNING, owner=worker.name, error=str(exc))
            return
    job = BuildJob.given(given, config["STOKER_DATA_DIR"], pin=lambda hosts: pin_host_key(build.project_id, hosts),
                         carried=config["STOKER_WORKER_LABELS"])
    log.info("worker %s runs build %s (%s)", worker.name, job.build_id, job.commit_hash[:12])
    with db.connection_context():
        artifacts.forget_of(config, build.id)
    mask = job.mask()
    # Once its result is out: its containers, all ended, and its workspace are removed, the
    # project's builds past what it keeps go, and its people hear of a failure.
    with worker.tidying() as later:
        later.callback(retention.prune, build.project_id, config)
        later.callback(mail.tell, worker.app, build.id)
        _run_and_record(worker, runner, build, job, mask, later)


def _run_and_record(worker, runner, build, job, mask, later):
    outcome, reason, timeout = _run(worker, runner, job, mask, later)
    if outcome.labels_needed and reason is None:
        with db.connection_context():
            hand_back(build.id, worker.name, outcome.labels_needed)
        return
    status, error = ending(outcome.exit_code, outcome.skipped, reason, outcome.error, timeout)
    try:
        _record(worker, build, status, outcome, mask.mask(error), reason)
    except DatabaseError:
        # The disk may be full of this build's own files (its log could not be kept, as likely as
        # not, for the same reason): they go first, then its end is written again.
        log.warning("build %s: recording its end failed; trying again with its files removed", build.id)
        later.close()
        _record(worker, build, status, outcome, mask.mask(error), reason)


def _record(worker, build, status, outcome, error, reason):
    with db.connection_context():
        # A canceled build's record already says so, and one taken over after this
        # worker lost its lease is another's: this write then changes nothing.
        move(
            BUILD,
            build.id,
            status,
            expect=Status.RUNNING,
            owner=worker.name,
            exit_code=outcome.exit_code,
            error=error,
            commit_message=build.commit_message or outcome.commit_message,
            commit_author=build.commit_author or outcome.commit_author,
        )
        if reason == "log lost":
            append_note(build, outcome.error)


def _run(worker, runner, job, mask, later):
    """Run one job under watch; return its outcome, why it was halted (if it was), and its timeout."""
    config = worker.app.config
    log_writer = LogWriter(worker.app, job.build_id, config["STOKER_LOG_MAX_BYTES"], mask, owner=worker.name)
    step_writers = {}

    def step_output(name, raw):
        if name not in step_writers:
            step_writers[name] = LogWriter(worker.app, job.build_id, config["STOKER_LOG_MAX_BYTES"],
                                           mask.fresh(), step=name[:100], owner=worker.name)
        step_writers[name].write(raw)

    watch = worker.watch = Watch(worker, BUILD, job.build_id, job.timeout,
                                 kill=lambda: runner.kill_containers(job.build_id),
                                 say=lambda line: log_writer.write(f"\n==> {line}\n".encode()))
    try:
        outcome, reason = run_watched(runner, job, watch, log_writer.write,
                                      lambda result, status: _record_step(worker, job, result, status), step_output,
                                      later, mask.of_bytes, worker.stopping,
                                      on_artifact=lambda found, file: _keep_artifact(worker, job, found, file))
    finally:
        worker.watch = None
        # Every line is saved and emitted before the final status goes out.
        log_writer.close()
        for writer in step_writers.values():
            writer.close()
    if log_writer.lost:
        # Whatever the command's exit code, a build whose log stops short has not passed.
        outcome.error, reason = log_writer.lost, reason or "log lost"
    return outcome, reason, watch.timeout


def _record_step(worker, job, result, status):
    """Keep how a .stoker.yml step ended (passed, failed or skipped, as the runner says), while the
    build is still this worker's."""
    with db.connection_context():
        try:
            insert_if_held(BuildStep, worker.name, job.build_id, position=result.position, name=result.name[:100],
                           status=status, exit_code=result.exit_code, started_at=result.started_at,
                           finished_at=result.finished_at, matrix=json.dumps(result.matrix) if result.matrix else None)
        except IntegrityError:
            # The build is gone (deleted, or its project), or another worker took it over; its watch
            # halts the rest.
            log.info("build %s: not recording step %s of a build no longer this worker's", job.build_id,
                     result.name)


def _keep_artifact(worker, job, found, file):
    """Into the store every web process serves from (records/artifacts.py)."""
    try:
        with db.connection_context():
            artifacts.keep(worker.app.config, job.build_id, found.name, file, found.report, owner=worker.name)
    except artifacts.NotKept as exc:
        raise ArtifactNotKept(str(exc)) from None
    except (OSError, DatabaseError) as exc:
        raise ArtifactNotKept(f"Artifact {found.name!r} not kept: {exc}") from None
