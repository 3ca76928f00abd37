"""Signed download links for app builds (opened on a phone) and build artifacts: they carry no bearer token.

A link names the build and when it stops working, and is signed with a key
derived from the server secret; changing either part, or waiting past it,
makes the link a 403 (see app/api/downloads.py).
"""
import time

from itsdangerous import Signer

from .models import AppArtifact, AppBuildStatus


def _signer(app):
    return Signer(app.config["SECRET_KEY"], salt="stoker app build download")


def _signed_part(uid, expires):
    return f"{uid}:{expires}".encode()


def _download_path(uid, kind):
    return uid if kind is None else f"{uid}/{kind}"


def url_for_build(app, build, kind=None, now=None):
    """The link to the build's download, or to its artifact of `kind`, valid for
    STOKER_DOWNLOAD_URL_SECONDS; None unless it succeeded."""
    if build.status != AppBuildStatus.SUCCESS:
        return None
    path = _download_path(build.uid, kind)
    expires = int((now or time.time()) + app.config["STOKER_DOWNLOAD_URL_SECONDS"])
    signature = _signer(app).get_signature(_signed_part(path, expires)).decode()
    return f"{app.config['STOKER_PUBLIC_URL']}/api/v1/downloads/{path}?expires={expires}&signature={signature}"


def signed(app, uid, expires, signature, kind=None):
    """Whether `signature` is this server's over the build `uid` (its artifact of `kind`) and `expires`."""
    return _signer(app).verify_signature(_signed_part(_download_path(uid, kind), expires), signature.encode())


def shown(app, build):
    """The app build as the API shows it: its download link, and each artifact with its own."""
    made = []
    if build.status == AppBuildStatus.SUCCESS:
        made = list(AppArtifact.select(AppArtifact.id, AppArtifact.build, AppArtifact.kind, AppArtifact.file_name,
                                       AppArtifact.sha256, AppArtifact.size)
                    .where(AppArtifact.build == build.id).order_by(AppArtifact.id))
    for artifact in made:
        artifact.build = build
    artifacts = [(artifact, url_for_build(app, build, artifact.kind)) for artifact in made]
    return build.to_json(url_for_build(app, build), artifacts)


def _artifact_signer(app):
    return Signer(app.config["SECRET_KEY"], salt="stoker build artifact download")


def url_for_artifact(app, artifact, now=None):
    """A build artifact's download link, valid for STOKER_DOWNLOAD_URL_SECONDS: given to whoever
    may read the build, and opened without a token (a browser's download, a script's curl)."""
    expires = int((now or time.time()) + app.config["STOKER_DOWNLOAD_URL_SECONDS"])
    signature = _artifact_signer(app).get_signature(_signed_part(artifact.id, expires)).decode()
    return f"{app.config['STOKER_PUBLIC_URL']}/api/artifacts/{artifact.id}?expires={expires}&signature={signature}"


def signed_artifact(app, artifact_id, expires, signature):
    return _artifact_signer(app).verify_signature(_signed_part(artifact_id, expires), signature.encode())
