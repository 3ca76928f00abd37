"""What Stoker asks of a forge's REST API with a user's token, whatever the forge: who the token is,
the repositories it may administer, and a webhook added to one or taken off it. Each forge module
says where and in what words (github.py, gitea.py, gitlab.py); the calls go through `call`."""
import json as jsonlib
import re
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from pipeline.hosts import Unreachable, exchange

# A user may administer thousands; a list longer than this many pages is cut short, and says so.
MOST_PAGES = 10
PAGE_SIZE = 100
# The most of one answer read, and the longest one request may take in all.
MAX_ANSWER = 8 * 2**20
DEADLINE = 30


class ForgeError(Exception):
    """The forge refused, or could not be asked; `status` is what the API answers the caller."""

    def __init__(self, message, status=422):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Repository:
    """A repository on a forge, in words of no forge."""

    path: str
    clone_url: str
    private: bool
    default_branch: str
    # Whether the token may administer it (add a webhook to it).
    admin: bool
    url: str | None = None

    def to_json(self):
        return {"forgeRepo": self.path, "cloneUrl": self.clone_url, "private": self.private,
                "defaultBranch": self.default_branch, "admin": self.admin, "url": self.url}


def request(app, method, url, headers, json=None, params=None, checked=True, data=None, allow_private=None,
            what="the forge"):
    """(status, body) of one request to a forge (or `what` else is at `url`: an outgoing webhook's
    target), ForgeError when it cannot be made. A user's address (`checked`; not the admin's own
    GitHub API address) is resolved and checked (a private one only if `allow_private`, by default
    as repositories' hosts are), and the connection made to the very address checked: a name
    resolved again could point anywhere. No redirect is followed, no proxy or .netrc of the
    environment applies, and an answer larger than MAX_ANSWER or slower than DEADLINE in all is cut
    off. `data`: the body as bytes, sent as JSON as it is."""
    answer = bytearray()

    def keep(chunk):
        answer.extend(chunk)
        if len(answer) > MAX_ANSWER:
            raise ForgeError(f"{what} at {urlsplit(url).hostname} answered more than it may")

    path_params = f"?{urlencode(params)}" if params else None
    body = jsonlib.dumps(json).encode() if json is not None else data
    headers = {"Accept": "application/json", **headers,
               **({"Content-Type": "application/json"} if body is not None and json is not None else {})}
    status = _exchange(app, method, url, headers, body, keep, checked, allow_private, what, DEADLINE, path_params)
    return status, bytes(answer)


def _exchange(app, method, url, headers, body, keep, checked, allow_private, what, seconds, query):
    if allow_private is None:
        allow_private = app.config["STOKER_ALLOW_PRIVATE_REPO_HOSTS"]
    try:
        return exchange(method, url, headers, body, keep, allow_private=allow_private, what=what, seconds=seconds,
                        checked=checked, query=query)
    except Unreachable as exc:
        raise ForgeError(str(exc)) from None


def call(app, method, url, headers, json=None, params=None, checked=True):
    """The forge's JSON answer to one request (None for 404 or an empty body); ForgeError saying why not."""
    status, answer = request(app, method, url, headers, json=json, params=params, checked=checked)
    if status in (401, 403):
        raise ForgeError("the forge refused the token: it is wrong, expired, or may not do this", 400)
    if status == 404:
        return None
    if status >= 300:
        raise ForgeError(f"the forge answered {status}: {said(answer)}")
    if not answer:
        return None
    try:
        return jsonlib.loads(answer)
    except (ValueError, RecursionError):
        raise ForgeError("the forge's answer is not JSON") from None


def said(answer):
    """What a forge's error answer says, shortly."""
    try:
        message = jsonlib.loads(answer).get("message")
    except (ValueError, RecursionError, AttributeError):
        message = None
    return str(message or answer[:200].decode(errors="replace")).strip()[:200]


# A repository's path as a forge answers it: "owner/repo", or GitLab's "group/subgroup/project".
PATH = re.compile(r"[A-Za-z0-9_.-]{1,100}(/[A-Za-z0-9_.-]{1,100}){1,20}")


def path_of(value, nested=True):
    """`value` when it is a repository path with no '.' or '..' part (it is put in API paths), else None.
    Not `nested`: owner/name, no deeper, as GitHub's, Gitea's and Forgejo's are (GitLab's have groups)."""
    if not isinstance(value, str) or len(value) > 200 or not PATH.fullmatch(value):
        return None
    if {".", ".."} & set(value.split("/")) or (not nested and value.count("/") != 1):
        return None
    return value


def repository_of(item):
    """A repository as GitHub, Gitea and Forgejo answer one; None for an answer that is not one."""
    path, clone_url = path_of(text(item, "full_name", 200), nested=False), text(item, "clone_url")
    if path is None or clone_url is None:
        return None
    permissions = item.get("permissions") if isinstance(item.get("permissions"), dict) else {}
    return Repository(path=path, clone_url=clone_url, private=item.get("private") is True,
                      default_branch=text(item, "default_branch", 255) or "main",
                      admin=permissions.get("admin") is True, url=text(item, "html_url"))


def hook_id_of(hook):
    """The id a forge gave the webhook it added; ForgeError when it gave none."""
    hook_id = hook.get("id") if isinstance(hook, dict) else None
    if not isinstance(hook_id, int) or isinstance(hook_id, bool) or not 0 < hook_id < 10**18:
        raise ForgeError("the forge did not say which webhook it added")
    return str(hook_id)


def text(item, key, most=500):
    """`item[key]` when it is a text of at most `most` characters, else None: a forge's answer is read
    as warily as a webhook's."""
    value = item.get(key) if isinstance(item, dict) else None
    return value if isinstance(value, str) and 0 < len(value) <= most else None


def pages(fetch):
    """Every item of a paged list, `fetch(page)` giving one page (a list) of at most PAGE_SIZE; up to
    the first empty page, since a forge may give fewer than asked (Gitea's most is 50 by default)."""
    items = []
    for page in range(1, MOST_PAGES + 1):
        found = fetch(page)
        if not isinstance(found, list):
            raise ForgeError("the forge's list of repositories is not a list")
        if not found:
            break
        items += found
    return items
