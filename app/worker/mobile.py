"""Running one claimed mobile build: the web app made into an app in pipeline/, the artifact kept here."""
import dataclasses
import hashlib
import json
import logging

from pipeline.mobile.build import MobileBuildFailed, MobileJob

from .. import runtime
from ..records.jobs import MOBILE_BUILD
from ..records.lifecycle import changes, move
from ..records.models import MobileArtifact, MobileStatus, db
from ..records.vault import VaultError
from .signing import signing_key

log = logging.getLogger(__name__)


def run_mobile_build(worker, build):
    """Build the app `worker` has claimed, and keep what it made or say why it failed."""
    permissions = tuple(json.loads(build.permissions))
    job = MobileJob(uid=build.uid, platform=build.platform, name=build.name, bundle_id=build.bundle_id,
                    version=build.version, url=build.url, permissions=permissions)
    log.info("worker %s builds app %s (%s %s)", worker.name, job.uid, job.bundle_id, job.version)
    artifact, error = None, None
    try:
        if job.platform == "android":
            with db.connection_context():
                key, certificate = signing_key(build.bundle_record_id, worker.app.config["SECRET_KEY"])
            job = dataclasses.replace(job, signing_key=key, certificate=certificate)
        artifact = worker.mobile_builder.build(job)
    except (MobileBuildFailed, VaultError) as exc:
        error = str(exc)
    except Exception as exc:
        log.exception("mobile build %s failed inside Stoker", job.uid)
        error = f"internal error: {exc}"
    taken = {"expect": MobileStatus.BUILDING, "owner": worker.name}
    # Hashed on a real thread, before the transaction: an app of tens of MB holds no other green thread.
    digest = artifact and runtime.off_the_hub(lambda: hashlib.sha256(artifact.data).hexdigest())
    with db.connection_context():
        if artifact is None:
            move(MOBILE_BUILD, build.id, MobileStatus.FAILED, **taken, error=error)
            return
        with changes() as batch:
            # Lost to another worker meanwhile: its artifact is the one kept, and this one is not written.
            if batch.move(MOBILE_BUILD, build.id, MobileStatus.SUCCESS, **taken) is not None:
                MobileArtifact.create(build=build.id, file_name=artifact.file_name,
                                      content_type=artifact.content_type,
                                      sha256=digest, data=artifact.data)
