"""One app build, from plain values to the bytes of an App Bundle and an APK, or an Xcode project archive.

The web app is read first (pipeline.mobile.webapp); an Android app is then
packaged and signed in the builder image with no network, as a user with no
rights over anything but its own folder.
"""
import logging
import os
import secrets
import shutil
import stat
from dataclasses import dataclass, field
from pathlib import Path

from .. import workspaces
from ..backend import BuildError, BuildSpec, ImageMissing, Sandbox, StepSpec, TimedOut
from . import icons
from .android.signing import keystore
from .android.sources import AndroidSources
from .ios.project import XcodeProject
from .webapp import WebAppError, read_web_app

log = logging.getLogger(__name__)

NOBODY = 65534
OUTPUT_LINES = 20
# A WebView shell with its icons is tens of KB; this is far past any app made here.
MAX_APP_BYTES = 64 * 2**20
# The build's own keystore has a random password and is gone with the build (see keystore()).
WORKSPACE_KDF_ROUNDS = 2048
# Tighter than a build: no network, no capabilities, a read-only root, an unprivileged user.
TOOL_SANDBOX = Sandbox(network="none", caps=(), pids=256, memory="1g", cpus=None, user=f"{NOBODY}:{NOBODY}",
                       read_only=True)


class AppBuildFailed(Exception):
    """The app could not be built; the message says why, for the user."""


@dataclass(frozen=True)
class AppBuildJob:
    uid: str
    platform: str
    name: str
    bundle_id: str
    version: str
    url: str
    permissions: tuple = ()
    # Android only: which of the two artifacts is the build's download ("aab" or "apk"), the hosts
    # whose links open in the app, and the bundle's own signing key (PKCS#8) and certificate, both DER.
    format: str = "aab"
    link_domains: tuple = ()
    signing_key: bytes | None = field(default=None, repr=False)
    certificate: bytes | None = None


@dataclass(frozen=True)
class Artifact:
    kind: str
    file_name: str
    content_type: str
    data: bytes = field(repr=False)


AAB_TYPE, APK_TYPE = "application/octet-stream", "application/vnd.android.package-archive"


def _made(path):
    """A file the builder wrote, read as what it is: the folder is the builder user's, so a link
    there could name any file of this host's; never followed, and never larger than an app can be."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        raise AppBuildFailed(f"packaging the app made no {path.name}") from None
    with os.fdopen(descriptor, "rb") as made:
        if not stat.S_ISREG(os.fstat(made.fileno()).st_mode):
            raise AppBuildFailed(f"packaging the app made no {path.name}")
        data = made.read(MAX_APP_BYTES + 1)
    if len(data) > MAX_APP_BYTES:
        raise AppBuildFailed(f"{path.name} came out larger than {MAX_APP_BYTES // 2**20} MB")
    return data


class AppBuilder:
    def __init__(self, data_dir, *, backend, image, allow_private_urls, timeout, labels=None, off_the_hub=None):
        # Where the builder runs (see pipeline/backend).
        self.backend = backend
        # How drawing icons, up to half a second of CPU, runs beside a server's other work rather than
        # in its way (app.runtime.off_the_hub); by default simply called.
        self.off_the_hub = off_the_hub or (lambda function, *args: function(*args))
        self.work_root = Path(data_dir) / workspaces.APP_BUILDS
        self.image = image
        self.allow_private_urls = allow_private_urls
        self.timeout = timeout
        self.labels = dict(labels or {})

    def build(self, job, halt=None):
        """Return the job's Artifacts, the download first, or raise AppBuildFailed; once `halt` is
        set, nothing more is started (see kill_containers for what already runs)."""
        try:
            web = read_web_app(job.url, self.allow_private_urls, halt=halt)
        except WebAppError as exc:
            raise AppBuildFailed(str(exc)) from None
        if halt is not None and halt.is_set():
            raise AppBuildFailed("stopped before packaging")
        if job.platform == "ios":
            icon = self.off_the_hub(icons.app_store_icon, web.icon_png, web.maskable_png, web.background_color)
            app = XcodeProject(bundle_id=job.bundle_id, name=job.name, version=job.version,
                               start_url=web.final_url, permissions=job.permissions, icon_png=icon)
            return [Artifact("xcode-project", f"{job.bundle_id}-{job.version}-xcode.zip", "application/zip",
                             app.archive())]
        drawn = self.off_the_hub(icons.android_icons, web.icon_png, web.maskable_png, web.monochrome_png,
                                 web.background_color or icons.WHITE)
        # Where the URL ends up (apex to www, say): the origin the app keeps its pages in.
        app = AndroidSources(bundle_id=job.bundle_id, name=job.name, version=job.version, start_url=web.final_url,
                             permissions=job.permissions, theme_color=web.theme_color,
                             background_color=web.background_color, link_domains=job.link_domains, icons=drawn)
        aab, apk = self._package(job, app)
        made = [Artifact("aab", f"{job.bundle_id}-{job.version}.aab", AAB_TYPE, aab),
                Artifact("apk", f"{job.bundle_id}-{job.version}.apk", APK_TYPE, apk)]
        return sorted(made, key=lambda artifact: artifact.kind != job.format)

    def kill_containers(self, uid=None):
        """Kill the containers of app build `uid` (None: of every app build this builder runs)."""
        self.backend.kill({**self.labels, "stoker.app-build": uid} if uid else self.labels)

    def _package(self, job, app):
        with workspaces.workspace(self.work_root, f"{job.uid}-") as folder:
            app.write(folder)
            signing = folder / "signing"
            signing.mkdir()
            # jarsigner reads a keystore; its password lives only as long as this folder.
            password = secrets.token_urlsafe(24)
            (signing / "key.pk8").write_bytes(job.signing_key)
            (signing / "cert.der").write_bytes(job.certificate)
            (signing / "upload.p12").write_bytes(keystore(job.signing_key, job.certificate, password.encode(),
                                                          kdf_rounds=WORKSPACE_KDF_ROUNDS))
            (signing / "storepass").write_text(password)
            for path in (folder, *folder.rglob("*")):
                shutil.chown(path, NOBODY, NOBODY)
            for secret in ("key.pk8", "upload.p12", "storepass"):
                (signing / secret).chmod(0o400)
            exit_code, output = self._run_builder(folder, {**self.labels, "stoker.app-build": job.uid})
            if exit_code != 0:
                tail = "\n".join(output.decode(errors="replace").strip().splitlines()[-OUTPUT_LINES:])
                raise AppBuildFailed(f"packaging the app failed (exit code {exit_code}):\n{tail}")
            return _made(folder / "app.aab"), _made(folder / "app.apk")

    def _run_builder(self, folder, labels):
        spec = BuildSpec(name="app-build", workspace=folder, workdir="/work", sandbox=TOOL_SANDBOX, labels=labels,
                         kind="tool")
        output = bytearray()
        try:
            build = self.backend.setup_build(spec)
            try:
                ended = self.backend.run_step(build, StepSpec(image=self.image, command=("/opt/stoker/build-app",)),
                                              output.extend, timeout=self.timeout)
            finally:
                self.backend.destroy_build(build)
            return ended.code, bytes(output)
        except ImageMissing:
            raise AppBuildFailed(
                f"the Android builder image {self.image} is not on this worker's Docker engine; "
                "make it with 'stoker make-android-image'") from None
        except TimedOut:
            raise AppBuildFailed(f"packaging the app took longer than {self.timeout:g} s") from None
        except BuildError as exc:
            raise AppBuildFailed(f"the builder container could not run: {exc}") from None
