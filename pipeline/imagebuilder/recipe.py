"""How the image builder is made: everything its tag is a hash of, with build-image (see __init__.py)."""
import copy
import json
import shutil
from pathlib import Path

from ..debian import DEFAULT_MIRROR, chroot, make_debian_image

HERE = Path(__file__).resolve().parent
FILES = ("recipe.py", "build-image")
REPOSITORY = "stoker-image-builder"
PACKAGES = ("buildah", "uidmap", "ca-certificates")
ENTRYPOINT = "/usr/local/bin/stoker-build-image"
# Inside the image: Debian's podman profile, as builder_profile changes it; the backend reads it there.
PROFILE = "/etc/stoker/seccomp.json"
PODMAN_PROFILE = "usr/share/containers/seccomp.json"


# Allowed by podman's profile, refused by Docker's: the kernel's keyrings are not namespaced, so a
# build could reach the host's own. buildah's chroot isolation does not use them.
REFUSED = ("keyctl", "add_key", "request_key")


def builder_profile(podman):
    """Podman's seccomp profile (parsed) with chroot allowed whatever the container's capabilities,
    and the keyring calls refused."""
    profile = copy.deepcopy(podman)
    rules = []
    for rule in profile["syscalls"]:
        if "chroot" in rule["names"]:
            if rule.get("excludes", {}).get("caps"):
                continue
            rule["includes"] = {}
        if rule["action"] == "SCMP_ACT_ALLOW":
            rule["names"] = [name for name in rule["names"] if name not in REFUSED]
        if rule["names"]:
            rules.append(rule)
    profile["syscalls"] = rules
    return profile


def make_image_builder(client, name, mirror=DEFAULT_MIRROR, say=print):
    """Make the image builder `name` on the engine behind `client` (root only: it debootstraps)."""

    def prepare(root):
        chroot(root, "buildah --version >/dev/null && unshare --version >/dev/null")
        shutil.copy(HERE / "build-image", root / ENTRYPOINT.lstrip("/"))
        (root / ENTRYPOINT.lstrip("/")).chmod(0o755)
        profile = root / PROFILE.lstrip("/")
        profile.parent.mkdir(parents=True)
        profile.write_text(json.dumps(builder_profile(json.loads((root / PODMAN_PROFILE).read_text()))))
        # newuidmap maps only what these give root: its own users, as they are.
        for table in ("subuid", "subgid"):
            (root / "etc" / table).write_text("root:0:65536\n")

    return make_debian_image(client, name, PACKAGES, prepare, mirror=mirror, say=say,
                             changes=[f'ENTRYPOINT ["{ENTRYPOINT}"]', "WORKDIR /"])
