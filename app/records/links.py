"""Signed download links for app builds (opened on a phone) and build artifacts: they carry no bearer token.

A link names what it opens and when it stops working, and is signed with a
key derived from the server secret, one per kind of link; changing any part,
or waiting past it, makes the link a 403 (see refusal, and app/api/downloads.py
and app/api/artifacts.py).
"""
import time

from itsdangerous import Signer

from .models import AppArtifact, AppBuildStatus

APP_BUILDS = ("stoker app build download", "/api/v1/downloads")
ARTIFACTS = ("stoker build artifact download", "/api/artifacts")


def _signer(app, links):
    return Signer(app.config["SECRET_KEY"], salt=links[0])


def _link(app, links, path, now=None):
    """The signed link to `path` under `links`, valid for STOKER_DOWNLOAD_URL_SECONDS."""
    expires = int((now or time.time()) + app.config["STOKER_DOWNLOAD_URL_SECONDS"])
    signature = _signer(app, links).get_signature(f"{path}:{expires}".encode()).decode()
    return f"{app.config['STOKER_PUBLIC_URL']}{links[1]}/{path}?expires={expires}&signature={signature}"


def refusal(app, links, path, args):
    """Why the link to `path` with query `args` opens nothing (a sentence for a 403), or None if it
    is this server's and has not expired."""
    expires, signature = args.get("expires", ""), args.get("signature", "")
    if not (expires.isascii() and expires.isdecimal() and len(expires) <= 12
            and _signer(app, links).verify_signature(f"{path}:{expires}".encode(), signature.encode())):
        return "This download link is not valid"
    if int(expires) < time.time():
        return "This download link has expired; fetch the build again for a new one"
    return None


def build_path(uid, kind=None):
    return uid if kind is None else f"{uid}/{kind}"


def url_for_build(app, build, kind=None, now=None):
    """The link to the app build's download, or to its artifact of `kind`; None unless it succeeded."""
    if build.status != AppBuildStatus.SUCCESS:
        return None
    return _link(app, APP_BUILDS, build_path(build.uid, kind), now)


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


def url_for_artifact(app, artifact, now=None):
    """A build artifact's download link: given to whoever may read the build, and opened without a
    token (a browser's download, a script's curl)."""
    return _link(app, ARTIFACTS, artifact.id, now)
