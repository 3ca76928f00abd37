"""The Android builder image: Debian's Android tools in a minimal root, made here with no registry.

`stoker make-android-image` debootstraps bookworm, installs aapt2, the API 29
framework resources, zipalign, smali, zip and a headless JDK (for jarsigner,
which signs the bundle) in it, unpacks apksigner's jar (its package would drag
in a desktop JRE), assembles the shell into /opt/stoker/classes.dex and
imports the result. The tag
is a hash of this recipe, so a changed recipe is a new image and an old one
is never used by mistake.
"""
import logging
import shutil
from pathlib import Path

from ...debian import DEFAULT_MIRROR, chroot, make_debian_image, recipe_tag

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
REPOSITORY = "stoker-android-builder"
# aapt holds aapt2; API 29 is Debian's newest framework, and it names every attribute the manifest uses.
PACKAGES = ("aapt", "android-framework-res", "zipalign", "openjdk-17-jdk-headless", "libsmali-java", "zip", "unzip")
# Unpacked, not installed: their dependencies are a desktop JRE the jar does not need.
UNPACKED = ("apksigner", "libapksig-java")
# What the image holds besides the packages: everything the tag is a hash of.
RECIPE_FILES = ("builder.py", "build-app", *(f"shell/{smali.name}" for smali in sorted((HERE / "shell").glob("*.smali"))))


def default_android_image():
    """The builder image this checkout of Stoker builds with: the repository, tagged by recipe."""
    return recipe_tag(REPOSITORY, HERE, RECIPE_FILES)


def make_android_image(client, name, mirror=DEFAULT_MIRROR, say=print):
    """Make the builder image `name` on the engine behind `client` (root only: it debootstraps)."""

    def prepare(root):
        chroot(root, f"cd /tmp && apt-get download -q {' '.join(UNPACKED)} "
               "&& for deb in /tmp/*.deb; do dpkg-deb -x \"$deb\" /; done && rm /tmp/*.deb")
        opt = root / "opt" / "stoker"
        opt.mkdir(parents=True)
        for smali in (HERE / "shell").glob("*.smali"):
            shutil.copy(smali, opt / smali.name)
        shutil.copy(HERE / "build-app", opt / "build-app")
        say("assembling the shell activity")
        # Debian's smali exits 0 on a syntax error and writes no dex: the test -s is the check.
        chroot(root, "smali assemble --api 23 -o /opt/stoker/classes.dex /opt/stoker/*.smali "
               "&& test -s /opt/stoker/classes.dex "
               "&& java -jar /usr/share/java/apksigner.jar --version >/dev/null")
        (root / "work").mkdir(mode=0o755)

    return make_debian_image(client, name, PACKAGES, prepare, mirror=mirror, say=say)
