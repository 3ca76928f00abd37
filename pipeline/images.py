"""Which images a build may run: Stoker's own build image, and those pulled with credentials.

Stoker's own image is made from the host's static busybox for machines with no
registry: `stoker make-image` makes it ahead of time; without that, a worker
makes it for the first build that needs it (OwnImages), once, however many
processes sharing a data dir need it at the same moment.

An image pulled with a project's registry credentials stays on the engine
after its build: PulledWithCredentials remembers it, so that no build without
credentials that pass the registry's check again runs it (see pulls.Images).
"""
import fcntl
import io
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path

from .backend import BuildError

REPOSITORY = "stoker-busybox"
DEFAULT_IMAGE = f"{REPOSITORY}:latest"
BUSYBOX_CANDIDATES = ("/bin/busybox", "/usr/bin/busybox")
# Under the data dir: held by the process making an image, so that the others wait for it.
LOCK_FILE = "images.lock"
# How long a build waits for another process to finish making the image (it takes about a second).
LOCK_WAIT_SECONDS = 120
# Under the data dir: a file per image pulled with credentials, named by its id, holding the registry.
PULLED_WITH_CREDENTIALS = "images-pulled-with-credentials"
IMAGE_ID = re.compile(r"sha256:[0-9a-f]{64}")
# How long a build waits for another's pull (a big image can take minutes) before it gives up.
PULL_WAIT_SECONDS = 1800
# An image reference as backends take them: [registry/]name[:tag][@digest].
IMAGE_REFERENCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/:@-]{0,254}")


def registry_of(image):
    """The registry an image reference pulls from: its first part when that names a host (has a
    dot or a port, or is localhost), else Docker Hub."""
    first, slash, _ = image.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        return first
    return "docker.io"


class NoBusybox(Exception):
    """There is no static busybox to make the image from."""


def is_own(image):
    """Whether `image` is a tag of Stoker's own build image: made here, never pulled."""
    name, _, tag = image.partition(":")
    return name == REPOSITORY and "@" not in tag


def find_busybox(path=None):
    """The static busybox to make the image from: `path` if given, else the first static one on
    PATH or among BUSYBOX_CANDIDATES. NoBusybox when there is none."""
    candidates = [path] if path else [shutil.which("busybox"), *BUSYBOX_CANDIDATES]
    for candidate in filter(None, candidates):
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK) and _static(candidate):
            return candidate
    where = f"at {path}" if path else "on this host"
    raise NoBusybox(f"no static busybox {where}")


def _static(path):
    ldd = subprocess.run(["ldd", path], capture_output=True, text=True)
    return "not a dynamic executable" in ldd.stdout + ldd.stderr


def busybox_rootfs(busybox):
    """Return a tar (bytes) of a root filesystem: busybox, a link per applet, /tmp and /workspace."""
    applets = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=True)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for folder, mode in (("bin", 0o755), ("tmp", 0o1777), ("workspace", 0o755), ("etc", 0o755)):
            info = tarfile.TarInfo(folder)
            info.type, info.mode = tarfile.DIRTYPE, mode
            tar.addfile(info)
        tar.add(busybox, arcname="bin/busybox")
        for applet in applets.stdout.split():
            if applet != "busybox":
                info = tarfile.TarInfo(f"bin/{applet}")
                info.type, info.linkname = tarfile.SYMTYPE, "busybox"
                tar.addfile(info)
        passwd = b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n"
        info = tarfile.TarInfo("etc/passwd")
        info.size = len(passwd)
        tar.addfile(info, io.BytesIO(passwd))
    return buf.getvalue()


def make_busybox_image(client, name, busybox=None):
    """Import a busybox image as `name` (repository:tag) into the engine behind `client`."""
    repository, _, tag = name.partition(":")
    client.api.import_image_from_data(
        busybox_rootfs(find_busybox(busybox)), repository=repository, tag=tag or "latest"
    )
    return client.images.get(name)


def cannot_make(image, reason):
    """The one line a build fails with when `image` is missing and cannot be made: what to do."""
    return (f"image {image!r} is not on the Docker engine and cannot be made here: {reason}; "
            f"install one ('apt-get install busybox-static') and run 'stoker make-image', "
            f"or set STOKER_BUILD_IMAGE to an image the engine can pull")


class OwnImages:
    """Makes Stoker's own build image on `backend` when a build needs it and it is missing, from
    `busybox` (None: looked for); processes sharing `lock_dir` make it once between them."""

    def __init__(self, backend, lock_dir, busybox=None):
        self.backend, self.lock_dir, self.busybox = backend, Path(lock_dir), busybox

    def make(self, image, say):
        """Make `image` unless another process made it meanwhile; BuildError saying the fix if it
        cannot be made."""
        with _FileLock(self.lock_dir / LOCK_FILE, lambda: say(f"Waiting for another worker to finish making {image}")):
            if self.backend.has_image(image):
                say(f"{image} was made by another worker")
                return
            try:
                busybox = find_busybox(self.busybox)
            except NoBusybox as exc:
                raise BuildError(cannot_make(image, exc)) from None
            say(f"Making {image} from this host's {busybox}, once for this engine "
                f"('stoker make-image' does it ahead of time)")
            self.backend.import_image(image, busybox_rootfs(busybox))


class _FileLock:
    """flock on a file (`shared`: one of many readers), which the kernel drops when its process
    dies. Polled, not blocked on, so that a green thread waiting for it never stalls the others."""

    def __init__(self, path, waiting=lambda: None, shared=False, patience=LOCK_WAIT_SECONDS):
        self.path, self.waiting, self.fd = path, waiting, None
        self.mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
        self.patience = patience

    def __enter__(self):
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + self.patience
        said = False
        while True:
            try:
                fcntl.flock(self.fd, self.mode | fcntl.LOCK_NB)
                return self
            except BlockingIOError:
                if time.monotonic() > deadline:
                    os.close(self.fd)
                    raise BuildError(f"another worker has held {self.path} for {self.patience:g} s") from None
                if not said:
                    self.waiting()
                    said = True
                time.sleep(0.05)

    def __exit__(self, *exc):
        os.close(self.fd)


class PulledWithCredentials:
    """The images on this host's engine that a registry gave only for credentials, each with that
    registry; kept in files under `folder`, so that every process on the host, and the next one
    after a restart, knows them."""

    def __init__(self, folder):
        self.folder = Path(folder)

    def pulling(self):
        """Held while an image is pulled and recorded: no build on this host looks at an image's
        id between the pull that gave it and the record of how it came."""
        return _FileLock(self.folder / ".lock", patience=PULL_WAIT_SECONDS)

    def looking(self):
        """Held while a build looks at an image's id and how it came; many at once."""
        return _FileLock(self.folder / ".lock", shared=True, patience=PULL_WAIT_SECONDS)

    def registry(self, image_id):
        """The registry that gave the image only for credentials, or None."""
        try:
            return self._file(image_id).read_text() or None
        except FileNotFoundError:
            return None

    def record(self, image_id, registry):
        """Remember how the image was pulled last: with credentials for `registry`, or (None) without
        any, which shows that the registry gives it to anyone."""
        path = self._file(image_id)
        if registry is None:
            path.unlink(missing_ok=True)
            return
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, written = tempfile.mkstemp(dir=self.folder, prefix=".")
        with os.fdopen(fd, "w") as file:
            file.write(registry)
        os.replace(written, path)

    def _file(self, image_id):
        if not IMAGE_ID.fullmatch(image_id):
            raise ValueError(f"not an image id: {image_id!r}")
        return self.folder / image_id.partition(":")[2]
