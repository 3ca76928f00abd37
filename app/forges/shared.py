"""What the forge modules share: the checks a delivery's fields pass before Stoker stores or runs
any of them (each refusal a BadDelivery naming the field), and where a status points."""
import re

from pipeline.git.inputs import check_branch, check_commit_hash

from . import hosting
from .events import BadDelivery
from .hosting import ForgeError

ALL_ZEROS = re.compile(r"0+")
DELIVERY_ID = re.compile(r"[A-Za-z0-9-]{1,64}")


def deletes(after):
    """Whether a push's new commit is all zeros: the branch or tag is gone."""
    return isinstance(after, str) and ALL_ZEROS.fullmatch(after) is not None


def commit(value, field):
    try:
        return check_commit_hash(value)
    except ValueError as exc:
        raise BadDelivery(f"{field}: {exc}") from None


def branch(value, field):
    try:
        return check_branch(value)
    except ValueError as exc:
        raise BadDelivery(f"{field}: {exc}") from None


def ref(value, field):
    """A pushed ref; the branch or tag name in it must be one git itself would take, as it is
    stored, shown and given to the build."""
    if not isinstance(value, str) or not value or len(value) > 300:
        raise BadDelivery(f"{field}: no ref")
    if value.startswith(("refs/heads/", "refs/tags/")):
        branch(value.split("/", 2)[2], field)
    return value


def number(value, field):
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 9_999_999_999:
        raise BadDelivery(f"{field}: must be a positive whole number")
    return value


def repository_id(value):
    """A forge's id for a repository, or None when it gives none that is one: a pull request whose
    head has none is taken for a fork's."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def previous(before):
    """The commit a push moved the ref from; None for a new ref (all zeros) or none given, when
    its changes are those since it left the default branch."""
    if deletes(before):
        return None
    try:
        return check_commit_hash(before)
    except ValueError:
        return None


def message_and_author(entry):
    """A pushed commit's message and its author's name, from the forge's entry for it; None for
    either it does not give."""
    entry = entry if isinstance(entry, dict) else {}
    author = entry.get("author") if isinstance(entry.get("author"), dict) else {}
    message, name = entry.get("message"), author.get("name")
    return message if isinstance(message, str) else None, name[:255] if isinstance(name, str) else None


def text(value, limit):
    return value[:limit] if isinstance(value, str) else None


class Refused(ForgeError):
    """The forge answered a status with an error: its `status` and its `answer` (text)."""

    def __init__(self, status, answer):
        super().__init__(f"the forge answered {status}: {answer[:200]}")
        self.status, self.answer = status, answer


def sent(app, url, headers, body, checked=True):
    """POST a status's JSON `body` to the forge (see hosting.request); Refused when it does not take it."""
    status, answer = hosting.request(app, "POST", url, headers, json=body, checked=checked)
    if status >= 300:
        raise Refused(status, answer.decode(errors="replace"))
    return answer, status


def forge_url(project):
    """The project's self-hosted forge, to send its statuses to."""
    if not project.forge_url:
        raise ForgeError("the project has no forge address (forge_url) to send statuses to")
    return project.forge_url


def build_url(app, build):
    """Where a status sends whoever clicks it: the build's page."""
    return f"{app.config['STOKER_PUBLIC_URL']}/builds/{build.id}"
