"""One app build, from plain values to the bytes of an APK or an Xcode project archive.

The web app is read first (pipeline.webapp); an Android app is then
packaged and signed in the builder image with no network, as a user with no
rights over anything but its own folder.
"""
import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from docker.errors import DockerException, ImageNotFound
from requests.exceptions import ConnectionError as RequestsConnectionError

from . import docker_runner, workspaces
from .android.app import AndroidApp
from .ios.project import IosApp
from .webapp import WebAppError, read_web_app

log = logging.getLogger(__name__)

NOBODY = 65534
OUTPUT_LINES = 20


class AppBuildFailed(Exception):
    """The app could not be built; the message says why, for the user."""


@dataclass(frozen=True)
class AppJob:
    uid: str
    platform: str
    name: str
    bundle_id: str
    version: str
    url: str
    permissions: tuple = ()
    # Android only: the bundle's own signing key (PKCS#8) and certificate, both DER.
    signing_key: bytes | None = field(default=None, repr=False)
    certificate: bytes | None = None


@dataclass(frozen=True)
class Artifact:
    file_name: str
    content_type: str
    data: bytes = field(repr=False)


class AppBuilder:
    def __init__(self, data_dir, *, image, allow_private_urls, timeout, labels=None):
        self.work_root = Path(data_dir) / workspaces.APP_BUILDS
        self.image = image
        self.allow_private_urls = allow_private_urls
        self.timeout = timeout
        self.labels = dict(labels or {})
        self._docker = None

    def build(self, job):
        """Return the job's Artifact, or raise AppBuildFailed."""
        try:
            web = read_web_app(job.url, self.allow_private_urls)
        except WebAppError as exc:
            raise AppBuildFailed(str(exc)) from None
        if job.platform == "ios":
            app = IosApp(bundle_id=job.bundle_id, name=job.name, version=job.version, start_url=job.url,
                         permissions=job.permissions)
            return Artifact(f"{job.bundle_id}-{job.version}-xcode.zip", "application/zip", app.archive())
        app = AndroidApp(bundle_id=job.bundle_id, name=job.name, version=job.version, start_url=job.url,
                         permissions=job.permissions, theme_color=web.theme_color, icon_png=web.icon_png)
        return Artifact(f"{job.bundle_id}-{job.version}.apk", "application/vnd.android.package-archive",
                        self._package(job, app))

    def kill_containers(self):
        if self._docker is not None:
            docker_runner.kill_labelled(self._docker, self.labels)

    def _package(self, job, app):
        with workspaces.workspace(self.work_root, f"{job.uid}-") as folder:
            app.write(folder)
            signing = folder / "signing"
            signing.mkdir()
            (signing / "key.pk8").write_bytes(job.signing_key)
            (signing / "cert.der").write_bytes(job.certificate)
            for path in (folder, *folder.rglob("*")):
                shutil.chown(path, NOBODY, NOBODY)
            (signing / "key.pk8").chmod(0o400)
            exit_code, output = self._run_builder(folder, {**self.labels, "stoker.app-build": job.uid})
            apk = folder / "app.apk"
            if exit_code != 0 or not apk.is_file():
                tail = "\n".join(output.decode(errors="replace").strip().splitlines()[-OUTPUT_LINES:])
                raise AppBuildFailed(f"packaging the APK failed (exit code {exit_code}):\n{tail}")
            return apk.read_bytes()

    def _run_builder(self, folder, labels):
        try:
            self._docker = self._docker or docker_runner.connect()
            return docker_runner.run_tool(self._docker, image=self.image, command=["/opt/stoker/build-apk"],
                                          workspace=folder, user=f"{NOBODY}:{NOBODY}", labels=labels,
                                          timeout=self.timeout)
        except ImageNotFound:
            raise AppBuildFailed(
                f"the Android builder image {self.image} is not on this worker's Docker engine; "
                "make it with 'stoker make-android-image'") from None
        except docker_runner.ToolTimeout:
            raise AppBuildFailed(f"packaging the APK took longer than {self.timeout:g} s") from None
        except (docker_runner.BuildError, DockerException, RequestsConnectionError) as exc:
            raise AppBuildFailed(f"the builder container could not run: {exc}") from None
