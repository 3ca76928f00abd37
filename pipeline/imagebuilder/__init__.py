"""Stoker's image builder: a step that builds a container image from a Dockerfile of the workspace
and pushes it to a registry, with no engine socket in the build and no privilege.

A step names it as a plugin, `image: stoker-image-builder` with `settings:`
(build-image says which), and it runs Debian's buildah, rootless: in a user
namespace of the step's own that maps the container's users as they are, with
chroot isolation for RUN and the vfs storage driver. The step differs from
every other step in these things, and only these:

- its seccomp filter is the one Debian's containers-common writes for podman
  (copied into the image when it is made, see recipe.py), which lets a
  process make user and mount namespaces, with chroot allowed whatever the
  capabilities (the kernel still wants CAP_SYS_CHROOT for it, which only the
  namespace gives);
- it keeps CAP_SETFCAP, which the kernel wants of whoever maps root into a
  new user namespace (no-new-privileges stays, so no file capability it
  could write is ever raised on exec);
- the keyring calls podman's profile allows are refused (keyrings are not
  namespaced);
- it is given the credentials of the registries the project keeps for image
  builds (STOKER_REGISTRY_AUTH, as containers' auth.json), which no other
  step is, and nothing of the build's env, matrix, run variables or secrets
  but what its settings name.

The image is made here, never pulled (`stoker make-image-builder`), tagged by
a hash of its recipe; a pipeline names it by its repository alone.
"""
import base64
import json

from ..debian import recipe_tag
from . import recipe
from .recipe import PROFILE, make_image_builder  # noqa: F401 (what the package is asked for)

REPOSITORY = recipe.REPOSITORY
CAPS = ("SETFCAP",)
# The variable it is given the project's registry credentials in.
REGISTRY_AUTH = "STOKER_REGISTRY_AUTH"


def default_image_builder():
    """The image builder this checkout of Stoker runs: the repository, tagged by recipe."""
    return recipe_tag(REPOSITORY, recipe.HERE, recipe.FILES)


def is_image_builder(image):
    """Whether a step's `image` names Stoker's image builder: its repository, with any tag (the one
    this Stoker made runs), never one from a registry."""
    name, _, tag = image.partition(":")
    return name == REPOSITORY and "@" not in tag


def auth_file(registries):
    """`registries` ({host: (username, password)}) as containers' auth.json has them."""
    return json.dumps({"auths": {host: {"auth": auth_token(username, password)}
                                 for host, (username, password) in registries.items()}})


def auth_token(username, password):
    """How auth.json (and Docker's config.json) holds a username and password: masked like the password."""
    return base64.b64encode(f"{username}:{password}".encode()).decode()
