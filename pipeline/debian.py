"""Images made here from Debian's packages, with no registry: a minimal root debootstrapped, packages
installed in it by chroot, trimmed, and imported into the engine. Root only.

The Android builder (pipeline/mobile/android/builder.py) and the image builder
(pipeline/imagebuild/) are made this way; each is tagged by a hash of its recipe.
"""
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

SUITE = "bookworm"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
TRIMMED = ("usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale",
           "var/cache/apt", "var/lib/apt/lists")


def recipe_tag(repository, folder, files, *words):
    """`repository:<hash>` of `files` (in `folder`) and `words`: a changed recipe is a new image."""
    digest = hashlib.sha256()
    for name in files:
        digest.update(name.encode() + b"\0" + (Path(folder) / name).read_bytes() + b"\0")
    for word in words:
        digest.update(word.encode() + b"\0")
    # How every such image is made is part of each one's recipe.
    digest.update(Path(__file__).read_bytes())
    return f"{repository}:{digest.hexdigest()[:12]}"


def make_debian_image(client, name, packages, prepare=None, changes=(), mirror=DEFAULT_MIRROR, say=print):
    """Make the image `name` on the engine behind `client`: a root of Debian's SUITE with `packages`
    installed, then given to `prepare(root)` (which may `chroot` into it), trimmed, and imported
    with Dockerfile-like `changes` (ENTRYPOINT [...], ...). RuntimeError when a tool is missing or a
    step fails."""
    for tool in ("debootstrap", "chroot", "mount", "umount", "tar"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"{tool} is missing; on Debian: apt-get install -y debootstrap")
    if os.geteuid() != 0:
        raise RuntimeError("making this image needs root (debootstrap, chroot)")
    with tempfile.TemporaryDirectory(prefix="stoker-image-", dir="/var/tmp") as work:
        root = Path(work) / "rootfs"
        say(f"debootstrap {SUITE} into {root}")
        run(["debootstrap", "--variant=minbase", SUITE, str(root), mirror])
        shutil.copy("/etc/resolv.conf", root / "etc" / "resolv.conf")
        # Some tools find their own files through /proc/self/exe (the JVM does).
        run(["mount", "-t", "proc", "proc", str(root / "proc")])
        try:
            say(f"installing {' '.join(packages)}")
            chroot(root, "apt-get update -q && apt-get install -y -q --no-install-recommends " + " ".join(packages))
            if prepare is not None:
                prepare(root)
        finally:
            run(["umount", "-l", str(root / "proc")])
        (root / "etc" / "resolv.conf").write_text("")
        for trimmed in TRIMMED:
            shutil.rmtree(root / trimmed, ignore_errors=True)
        archive = Path(work) / "rootfs.tar"
        say(f"importing {name}")
        run(["tar", "-C", str(root), "-cf", str(archive), "."])
        repository, _, tag = name.partition(":")
        client.api.import_image_from_file(str(archive), repository=repository, tag=tag or "latest",
                                          changes=list(changes) or None)
    return client.images.get(name)


def chroot(root, script):
    run(["chroot", str(root), "/bin/sh", "-ec", script],
        env={"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C"})


def run(command, env=None):
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise RuntimeError(f"{command[0]} failed ({result.returncode}):\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
