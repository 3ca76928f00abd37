"""What a forge's delivery says, in words of no forge: the webhook route builds from these."""
from dataclasses import dataclass


class BadDelivery(ValueError):
    """The delivery is not what its forge sends; the message names the part at fault."""


@dataclass(frozen=True)
class Ping:
    """The forge checking that the webhook answers."""


@dataclass(frozen=True)
class Push:
    """A branch or tag pushed (`ref`, refs/heads/... or refs/tags/...) to `after`, from `before`
    (None for a new one)."""

    ref: str
    after: str
    before: str | None
    message: str | None
    author: str | None


@dataclass(frozen=True)
class Delete:
    """A branch or tag deleted."""

    ref: str


@dataclass(frozen=True)
class PullRequest:
    """A pull (merge) request opened or given a new commit; `fork` when its head is in another
    repository, as the forge's own repository ids or names say."""

    number: int
    head_sha: str
    head_branch: str
    base_branch: str
    head_repo: str | None
    fork: bool
    title: str
    url: str | None


@dataclass(frozen=True)
class PullRequestClosed:
    number: int
