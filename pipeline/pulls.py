"""Image pulls: the images one build runs made present on its backend, each once."""
import threading

from .backend import BuildError
from .imagebuilder import is_image_builder
from .images import is_own, registry_of


class Images:
    """The images one build runs, each made present once: pulled as its step's policy says, from a
    registry this server pulls from, with the project's credentials for that registry; Stoker's own
    image made by `own` instead, whatever the policy. An image a registry gave only for credentials
    (`pulled`) is pulled again, whatever the policy, before this build runs it: it runs only if the
    registry gives it to this build too.

    `ensure` answers with the image's id, which the build's step is made from: a name could
    be given to another image (pulled by another build) between the check and the container.
    """

    def __init__(self, backend, allowed, credentials, say, own, pulled):
        self.backend, self.allowed, self.credentials, self.say = backend, allowed, credentials, say
        self.own, self.pulled = own, pulled
        self.ready = {}
        self.lock = threading.Lock()

    def ensure(self, image, policy):
        with self.lock:
            if image not in self.ready:
                self.ready[image] = self._ensure(image, policy)
            return self.ready[image]

    def ready_to_run(self, image):
        """The id of `image` if this build may run it with no pull and no check (for a container
        made ahead of its turn), else None. Never the image builder, which runs only as a step of its own."""
        if is_image_builder(image):
            return None
        if is_own(image):
            return self.backend.image_id(image)
        with self.pulled.looking():
            present = self.backend.image_id(image)
            return present if present and self.pulled.registry(present) is None else None

    def _ensure(self, image, policy):
        if is_own(image):
            present = self.backend.image_id(image)
            if present is None:
                self.own.make(image, self.say)
                present = self.backend.image_id(image)
            return present or image
        with self.pulled.looking():
            present = self.backend.image_id(image)
            guarded = present is not None and self.pulled.registry(present) is not None
        if not guarded and (policy == "never" or (present and policy == "if-missing")):
            return present or image
        host = registry_of(image)
        if self.allowed and host not in self.allowed and host.partition(":")[0] not in self.allowed:
            if present and not guarded:
                return present
            raise BuildError(f"image {image!r} is not on the Docker engine, and this server pulls only from "
                             f"{', '.join(self.allowed)}")
        credentials = self.credentials.get(host)
        self.say(f"Pulling {image} from {host}" + (f" as {credentials[0]}" if credentials else ""))
        with self.pulled.pulling():
            try:
                self.backend.pull(image, credentials, lambda line: self.say(f"{image}: {line}"))
            except BuildError as exc:
                raise BuildError(f"pulling {image} from {host} failed: {exc}") from None
            pulled = self.backend.image_id(image)
            if pulled is None:
                raise BuildError(f"image {image!r} was pulled and is gone from the Docker engine")
            self.pulled.record(pulled, host if credentials else None)
        return pulled
