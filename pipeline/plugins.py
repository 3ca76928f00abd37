"""What Woodpecker's and Drone's plugin images read: a step's `settings:` as PLUGIN_* variables, and the
build as CI_* variables.

A setting's value is read from the composed file (see plan.py, which has measured it already), so
nothing here makes more than the file holds: a list is joined by commas, a map becomes its JSON.
"""
import json
import math
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

import yaml

from .git.inputs import pull_number

# A setting's name: what makes a plain variable name once upper-cased with '-' as '_'.
SETTING_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")
SECRET_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
PREFIX = "PLUGIN_"
FROM_SECRET = "from_secret"
# Below Linux's limit on one variable (128 KB with its name), so a plugin's container can start.
MAX_SETTING_BYTES = 64 * 1024
BOOL, NULL, INT, FLOAT = (f"tag:yaml.org,2002:{kind}" for kind in ("bool", "null", "int", "float"))


class SettingError(ValueError):
    """What is wrong with a setting, and the node it is about."""

    def __init__(self, node, message):
        super().__init__(message)
        self.node = node


class SecretMissing(ValueError):
    """A setting names a secret this build is not given; the message names the setting, never a value."""


@dataclass(frozen=True)
class Setting:
    """One setting of a plugin step: its variable, and either its value or the secret it comes from."""

    name: str
    variable: str
    value: str | None = None
    secret: str | None = None
    line: int = 0


def read_settings(node):
    """The settings a `settings:` mapping gives, as a tuple of Setting; SettingError naming the node at
    fault. A setting whose value is null is left out, as Woodpecker leaves it out."""
    if not isinstance(node, yaml.MappingNode) or not node.value:
        raise SettingError(node, "settings must be a mapping of name: value")
    settings, seen = [], {}
    for key, value in node.value:
        name = key.value if isinstance(key, yaml.ScalarNode) else ""
        if not SETTING_NAME.fullmatch(name):
            raise SettingError(key, f"setting name {name[:80]!r} must be letters, digits, '-' and '_', "
                                    "starting with a letter, at most 64 characters")
        variable = PREFIX + name.upper().replace("-", "_")
        if variable in seen:
            raise SettingError(key, f"settings {seen[variable]!r} and {name!r} are both {variable}")
        seen[variable] = name
        line = key.start_mark.line + 1
        secret = _from_secret(value)
        if secret is not None:
            settings.append(Setting(name, variable, secret=secret, line=line))
        elif not (isinstance(value, yaml.ScalarNode) and value.tag == NULL):
            text = _text(value)
            if "\0" in text:
                raise SettingError(value, f"setting {name!r} holds a NUL character, which no variable can")
            if len(text.encode()) > MAX_SETTING_BYTES:
                raise SettingError(value, f"setting {name!r} is {len(text.encode())} bytes as a variable; "
                                          f"at most {MAX_SETTING_BYTES}")
            settings.append(Setting(name, variable, value=text, line=line))
    return tuple(settings)


def variables(settings, secrets):
    """{PLUGIN_NAME: text} for `settings`, each `from_secret` taken from `secrets` ({name: value});
    SecretMissing, naming the setting, for one this build is not given."""
    given = {}
    for setting in settings:
        if setting.secret is None:
            given[setting.variable] = setting.value
        elif setting.secret in secrets:
            given[setting.variable] = secrets[setting.secret]
        else:
            raise SecretMissing(
                f"setting {setting.name!r} (line {setting.line}) takes its value from the secret {setting.secret!r}, "
                "which this build is not given: there is none by that name, it is not for this build's event, "
                "or this is a fork's pull request")
    return given


def _from_secret(node):
    """The secret a `{from_secret: NAME}` value names, else None."""
    if not isinstance(node, yaml.MappingNode) or not any(_is_from_secret(key) for key, _ in node.value):
        return None
    if len(node.value) != 1:
        raise SettingError(node, "a value with from_secret has nothing else")
    name = node.value[0][1]
    if not isinstance(name, yaml.ScalarNode) or not SECRET_NAME.fullmatch(name.value):
        raise SettingError(name, "from_secret must name a secret: letters, digits and _")
    return name.value


def _is_from_secret(key):
    return isinstance(key, yaml.ScalarNode) and key.value == FROM_SECRET


def _text(node):
    """A setting's value as its variable holds it: a text as it is, a number as written, a boolean
    as true or false, a list of these joined by commas, anything else as JSON."""
    if isinstance(node, yaml.ScalarNode):
        return ("true" if _scalar(node) else "false") if node.tag == BOOL else node.value
    if isinstance(node, yaml.SequenceNode) and all(isinstance(item, yaml.ScalarNode) for item in node.value):
        return ",".join(_text(item) for item in node.value if item.tag != NULL)
    return json.dumps(_plain(node), ensure_ascii=False, separators=(",", ":"))


def _plain(node):
    """The value a node holds, as JSON has it."""
    if isinstance(node, yaml.SequenceNode):
        return [_plain(item) for item in node.value]
    if isinstance(node, yaml.MappingNode):
        if any(_is_from_secret(key) for key, _ in node.value):
            raise SettingError(node, "from_secret must be a setting's whole value, not inside a list or map")
        return {_key(key): _plain(value) for key, value in node.value}
    return _scalar(node)


def _key(node):
    if not isinstance(node, yaml.ScalarNode):
        raise SettingError(node, "a map's keys in settings must be texts")
    return node.value


def _scalar(node):
    """A scalar as JSON would have it: null, true/false, a finite number, else its text."""
    if node.tag == NULL:
        return None
    if node.tag == BOOL:
        return node.value.lower() in ("true", "yes", "on")
    if node.tag in (INT, FLOAT):
        try:
            number = json.loads(node.value)
        except ValueError:
            return node.value
        return number if isinstance(number, (int, float)) and math.isfinite(number) else node.value
    return node.value


def ci_variables(job, described=None):
    """The CI_* variables Woodpecker's plugins read, for the BuildJob `job` (see runner.py), each one
    left out where it has no value; `described`: the commit's (message, author) as git read them,
    where the job does not say. None carries a credential: a repository's token is never in its URL."""
    ref = job.ref or f"refs/heads/{job.branch}"
    message, author = described or (None, None)
    owner, name = repository(job.repo_url)
    pull = pull_number(ref)
    if job.event == "pull_request":
        branch, source = job.base_branch, job.branch
    else:
        branch, source = (None if ref.startswith("refs/tags/") else job.branch), None
    found = {
        "CI_SYSTEM_NAME": "stoker",
        "CI_REPO": f"{owner}/{name}" if owner else name,
        "CI_REPO_OWNER": owner,
        "CI_REPO_NAME": name,
        "CI_REPO_URL": without_userinfo(job.repo_url),
        "CI_REPO_CLONE_URL": without_userinfo(job.repo_url),
        "CI_REPO_DEFAULT_BRANCH": job.default_branch,
        "CI_COMMIT_SHA": job.commit_hash,
        "CI_COMMIT_REF": ref,
        "CI_COMMIT_BRANCH": branch,
        "CI_COMMIT_SOURCE_BRANCH": source,
        "CI_COMMIT_TARGET_BRANCH": job.base_branch if pull else None,
        "CI_COMMIT_TAG": ref[len("refs/tags/"):] if ref.startswith("refs/tags/") else None,
        "CI_COMMIT_PULL_REQUEST": pull,
        "CI_COMMIT_MESSAGE": job.commit_message or message,
        "CI_COMMIT_AUTHOR": job.commit_author or author,
        "CI_PIPELINE_NUMBER": str(job.build_id),
        "CI_PIPELINE_EVENT": job.event,
        "CI_PIPELINE_URL": job.page_url,
    }
    return {variable: value for variable, value in found.items() if value}


def repository(url):
    """(owner, name) of a repository URL's path: `git@host:team/app.git` and
    `https://host/team/app.git` are ("team", "app"); a path of more parts keeps all but the last
    as its owner (a GitLab group/subgroup)."""
    if "://" in url:
        path = urlsplit(url).path
    elif ":" in url and not url.startswith("/"):
        path = url.partition(":")[2]
    else:
        path = url
    path = path.strip("/")
    if path.endswith(".git"):
        path = path[:-len(".git")]
    owner, _, name = path.rstrip("/").rpartition("/")
    return owner, name


def without_userinfo(url):
    """The URL with no user name or password in it (an https:// URL's), as a build may see it."""
    if "://" not in url:
        return url
    parts = urlsplit(url)
    if "@" not in parts.netloc or parts.scheme not in ("http", "https"):
        return url
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()
