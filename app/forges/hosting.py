"""What Stoker asks of a forge's REST API with a user's token, whatever the forge: who the token is,
the repositories it may administer, and a webhook added to one or taken off it. Each forge module
says where and in what words (github.py, gitea.py, gitlab.py); the calls go through `call`."""
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests

from pipeline.hosts import UnsafeAddress, resolve

# A user may administer thousands; a list longer than this many pages is cut short, and says so.
MOST_PAGES = 10
PAGE_SIZE = 100


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


def call(app, method, url, headers, json=None, params=None, checked=True):
    """The forge's JSON answer to one request (None for 404 or an empty body); ForgeError saying why not.
    A user's forge address is resolved and checked first (`checked`; not the admin's own GitHub API
    address): a name may point anywhere."""
    parts = urlsplit(url)
    if checked:
        try:
            resolve(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80),
                    app.config["STOKER_ALLOW_PRIVATE_REPO_HOSTS"], "the forge's address")
        except (OSError, UnsafeAddress) as exc:
            raise ForgeError(f"the forge at {parts.hostname} cannot be reached: {exc}") from None
    try:
        response = requests.request(method, url, headers=headers, json=json, params=params, timeout=10,
                                    allow_redirects=False)
    except requests.RequestException as exc:
        raise ForgeError(f"the forge at {parts.hostname} did not answer: {type(exc).__name__}") from None
    if response.status_code in (401, 403):
        raise ForgeError("the forge refused the token: it is wrong, expired, or may not do this", 400)
    if response.status_code == 404:
        return None
    if response.status_code >= 300:
        raise ForgeError(f"the forge answered {response.status_code}: {_said(response)}")
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        raise ForgeError("the forge's answer is not JSON") from None


# A repository's path as a forge answers it: "owner/repo", or GitLab's "group/subgroup/project".
PATH = re.compile(r"[A-Za-z0-9_.-]{1,100}(/[A-Za-z0-9_.-]{1,100}){1,20}")


def path_of(value):
    """`value` when it is a repository path with no '.' or '..' part (it is put in API paths), else None."""
    if not isinstance(value, str) or len(value) > 200 or not PATH.fullmatch(value):
        return None
    return None if {".", ".."} & set(value.split("/")) else value


def repository_of(item):
    """A repository as GitHub, Gitea and Forgejo answer one; None for an answer that is not one."""
    path, clone_url = path_of(text(item, "full_name", 200)), text(item, "clone_url")
    if path is None or clone_url is None:
        return None
    permissions = item.get("permissions") if isinstance(item.get("permissions"), dict) else {}
    return Repository(path=path, clone_url=clone_url, private=item.get("private") is True,
                      default_branch=text(item, "default_branch", 255) or "main",
                      admin=permissions.get("admin") is True, url=text(item, "html_url"))


def hook_id_of(hook):
    """The id a forge gave the webhook it added; ForgeError when it gave none."""
    hook_id = hook.get("id") if isinstance(hook, dict) else None
    if not isinstance(hook_id, int) or isinstance(hook_id, bool):
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


def _said(response):
    try:
        message = response.json().get("message")
    except (ValueError, AttributeError):
        message = None
    return str(message or response.reason)[:200]
