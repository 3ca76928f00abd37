"""Running one claimed app build: the web app made into an app in pipeline/, the artifacts kept here."""
import dataclasses
import hashlib
import json
import logging

from pipeline.mobile.build import AppBuilder, AppBuildFailed, AppBuildJob

from .. import runtime
from ..records.jobs import APP_BUILD
from ..records.lifecycle import changes, move
from ..records.models import AppArtifact, AppBuildStatus, db
from ..records.signing import signing_key
from ..records.vault import VaultError
from .watch import Watch

log = logging.getLogger(__name__)


def make_builder(app, engine, labels):
    """The AppBuilder a worker makes apps with, set up from the app's config."""
    config = app.config
    return AppBuilder(config["STOKER_DATA_DIR"], backend=engine, image=config["STOKER_ANDROID_IMAGE"],
                      allow_private_urls=config["STOKER_ALLOW_PRIVATE_APP_URLS"],
                      timeout=config["STOKER_APP_BUILD_TIMEOUT"], labels=labels, off_the_hub=runtime.off_the_hub)


def run_app_build(worker, builder, build):
    """Build the app `worker` has claimed with `builder`, under watch, and keep what it made or say
    why it failed. A canceled one's container is killed and nothing it made is kept."""
    permissions = tuple(json.loads(build.permissions))
    job = AppBuildJob(uid=build.uid, platform=build.platform, name=build.name, bundle_id=build.bundle_id,
                      version=build.version, url=build.url, permissions=permissions,
                      format=build.format or "apk", link_domains=tuple(json.loads(build.link_domains)))
    log.info("worker %s builds app %s (%s %s)", worker.name, job.uid, job.bundle_id, job.version)
    timeout = worker.app.config["STOKER_APP_BUILD_TIMEOUT"]
    watch = worker.watch = Watch(worker, APP_BUILD, build.id, timeout, kill=lambda: builder.kill_containers(job.uid))
    watch.start()
    artifacts, error = None, None
    try:
        if job.platform == "android":
            with db.connection_context():
                key, certificate = signing_key(build.bundle_record_id, worker.app.config["SECRET_KEY"])
            job = dataclasses.replace(job, signing_key=key, certificate=certificate)
        artifacts = builder.build(job, halt=watch.halt)
    except (AppBuildFailed, VaultError) as exc:
        error = str(exc)
    except Exception as exc:
        log.exception("app build %s failed inside Stoker", job.uid)
        error = f"internal error: {exc}"
    finally:
        watch.done.set()
        watch.join()
        worker.watch = None
    if watch.reason is not None:
        # Canceled, taken over or deleted: the moves below find it no longer building and change nothing.
        artifacts, error = None, {"timeout": f"the app build took longer than {timeout:g} s"}.get(watch.reason, error)
    taken = {"expect": AppBuildStatus.BUILDING, "owner": worker.name}
    # Hashed on a real thread, before the transaction: an app of tens of MB holds no other green thread.
    digests = artifacts and runtime.off_the_hub(
        lambda: [hashlib.sha256(artifact.data).hexdigest() for artifact in artifacts])
    with db.connection_context():
        if artifacts is None:
            move(APP_BUILD, build.id, AppBuildStatus.FAILED, **taken, error=error)
            return
        with changes() as batch:
            # Lost to another worker meanwhile: its artifact is the one kept, and this one is not written.
            if batch.move(APP_BUILD, build.id, AppBuildStatus.SUCCESS, **taken) is not None:
                # In the order made: the download first (see app/api/downloads.py).
                for artifact, digest in zip(artifacts, digests):
                    AppArtifact.create(build=build.id, kind=artifact.kind, file_name=artifact.file_name,
                                       content_type=artifact.content_type, sha256=digest,
                                       size=len(artifact.data), data=artifact.data)
