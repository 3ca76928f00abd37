"""The Android builder image: Debian's Android tools in a minimal root, made here with no registry.

`stoker make-android-image` debootstraps bookworm, installs aapt, the API 29
framework resources, zipalign, smali and a headless JRE in it, unpacks
apksigner's jar (its package would drag in a desktop JRE), assembles the
shell activity into /opt/stoker/classes.dex and imports the result. The tag
is a hash of this recipe, so a changed recipe is a new image and an old one
is never used by mistake.
"""
import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
REPOSITORY = "stoker-android-builder"
SUITE = "bookworm"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
PACKAGES = ("aapt", "android-framework-res", "zipalign", "openjdk-17-jre-headless", "libsmali-java")
# Unpacked, not installed: their dependencies are a desktop JRE the jar does not need.
UNPACKED = ("apksigner", "libapksig-java")
# What the image holds besides the packages: everything the tag is a hash of.
RECIPE_FILES = ("builder.py", "build-apk", "shell/MainActivity.smali", "shell/Chrome.smali")
TRIMMED = ("usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale",
           "var/cache/apt", "var/lib/apt/lists")


def default_android_image():
    """The builder image this checkout of Stoker builds with: the repository, tagged by recipe."""
    digest = hashlib.sha256()
    for name in RECIPE_FILES:
        digest.update(name.encode() + b"\0" + (HERE / name).read_bytes() + b"\0")
    return f"{REPOSITORY}:{digest.hexdigest()[:12]}"


def make_android_image(client, name, mirror=DEFAULT_MIRROR, say=print):
    """Make the builder image `name` on the engine behind `client` (root only: it debootstraps)."""
    for tool in ("debootstrap", "chroot", "mount", "umount", "tar"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"{tool} is missing; on Debian: apt-get install -y debootstrap")
    if os.geteuid() != 0:
        raise RuntimeError("making the Android builder image needs root (debootstrap, chroot)")
    with tempfile.TemporaryDirectory(prefix="stoker-android-image-", dir="/var/tmp") as work:
        root = Path(work) / "rootfs"
        say(f"debootstrap {SUITE} into {root}")
        _run(["debootstrap", "--variant=minbase", SUITE, str(root), mirror])
        shutil.copy("/etc/resolv.conf", root / "etc" / "resolv.conf")
        with _proc_mounted(root):
            say(f"installing {' '.join(PACKAGES)}")
            _chroot(root, "apt-get update -q && apt-get install -y -q --no-install-recommends "
                    + " ".join(PACKAGES))
            _chroot(root, f"cd /tmp && apt-get download -q {' '.join(UNPACKED)} "
                    "&& for deb in /tmp/*.deb; do dpkg-deb -x \"$deb\" /; done && rm /tmp/*.deb")
            opt = root / "opt" / "stoker"
            opt.mkdir(parents=True)
            for smali in (HERE / "shell").glob("*.smali"):
                shutil.copy(smali, opt / smali.name)
            shutil.copy(HERE / "build-apk", opt / "build-apk")
            say("assembling the shell activity")
            _chroot(root, "smali assemble --api 21 -o /opt/stoker/classes.dex /opt/stoker/*.smali "
                    "&& java -jar /usr/share/java/apksigner.jar --version >/dev/null")
            _chroot(root, "apt-get clean")
        (root / "etc" / "resolv.conf").write_text("")
        for trimmed in TRIMMED:
            shutil.rmtree(root / trimmed, ignore_errors=True)
        (root / "work").mkdir(mode=0o755)
        archive = Path(work) / "rootfs.tar"
        say(f"importing {name}")
        _run(["tar", "-C", str(root), "-cf", str(archive), "."])
        repository, _, tag = name.partition(":")
        client.api.import_image_from_file(str(archive), repository=repository, tag=tag or "latest")
    return client.images.get(name)


@contextmanager
def _proc_mounted(root):
    # The JVM finds its own files through /proc/self/exe.
    _run(["mount", "-t", "proc", "proc", str(root / "proc")])
    try:
        yield
    finally:
        _run(["umount", "-l", str(root / "proc")])


def _chroot(root, script):
    _run(["chroot", str(root), "/bin/sh", "-ec", script],
         env={"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C"})


def _run(command, env=None):
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise RuntimeError(f"{command[0]} failed ({result.returncode}):\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
