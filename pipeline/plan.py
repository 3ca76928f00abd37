"""The `.stoker.yml` a repository may carry: image, env, timeout and steps, checked line by line.

Every error names the line of the file it is about, so a user can go
straight to it.
"""
import re
import shlex
from dataclasses import dataclass, field

import yaml

from .engine import IMAGE_REFERENCE
from .globs import MAX_PATTERN_LENGTH, MAX_PATTERNS
from .when import When

FILENAME = ".stoker.yml"
KEYS = {"image", "env", "timeout", "steps", "when"}
STEP_KEYS = ("name", "commands", "when")
WHEN_KEYS = ("event", "branch", "path")
EVENTS = ("push", "tag", "pull_request", "manual", "cron")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
DURATION = re.compile(r"(\d+)\s*(s|m|h)?")
MAX_STEPS, MAX_TIMEOUT = 100, 7 * 24 * 3600


class PlanError(ValueError):
    """What is wrong with a .stoker.yml, starting with the line it is on."""


@dataclass(frozen=True)
class Step:
    name: str
    commands: tuple
    when: When | None = None

    def script(self):
        """A POSIX shell script that prints each command, runs it, and stops at the first failure."""
        lines = ["set -e"]
        for command in self.commands:
            lines += [f"printf '%s\\n' {shlex.quote('$ ' + command)}", command]
        return "\n".join(lines)


@dataclass(frozen=True)
class Plan:
    steps: tuple
    image: str | None = None
    timeout: int | None = None
    env: dict = field(default_factory=dict)
    when: When | None = None


def _fail(node, message):
    raise PlanError(f"{FILENAME} line {node.start_mark.line + 1}: {message}")


def _scalar_text(node, what):
    if not isinstance(node, yaml.ScalarNode) or node.value == "":
        _fail(node, f"{what} must be a non-empty text")
    return node.value


def _timeout(node):
    text = _scalar_text(node, "timeout").strip()
    match = DURATION.fullmatch(text)
    if not match:
        _fail(node, "timeout must be whole minutes (30) or a duration such as 90s, 20m or 2h")
    seconds = int(match[1]) * {"s": 1, "m": 60, "h": 3600, None: 60}[match[2]]
    if not 1 <= seconds <= MAX_TIMEOUT:
        _fail(node, f"timeout must be between 1 second and {MAX_TIMEOUT // 86400} days")
    return seconds


def _env(node):
    if not isinstance(node, yaml.MappingNode):
        _fail(node, "env must be a mapping of NAME: value")
    env = {}
    for key, value in node.value:
        name = _scalar_text(key, "an env name")
        if not ENV_NAME.fullmatch(name):
            _fail(key, f"env name {name!r} must be letters, digits and _, not starting with a digit")
        if not isinstance(value, yaml.ScalarNode):
            _fail(value, f"env {name} must be a single value")
        env[name] = value.value
    return env


def _texts(node, what):
    """A text or a list of texts, as a tuple."""
    items = node.value if isinstance(node, yaml.SequenceNode) else [node]
    if not items:
        _fail(node, f"{what} must be a text or a list of texts")
    return tuple(_scalar_text(item, what) for item in items)


def _when(node, key):
    """The `when` whose key is `key` and whose mapping is `node`."""
    if not isinstance(node, yaml.MappingNode) or not node.value:
        _fail(node, f"when must be a mapping of {', '.join(WHEN_KEYS)}")
    found = {}
    for condition, value in node.value:
        name = _scalar_text(condition, "a when key")
        if name not in WHEN_KEYS:
            _fail(condition, f"unknown when key {name!r}; the keys are {', '.join(WHEN_KEYS)}")
        found[name] = _texts(value, f"when.{name}")
        if len(found[name]) > MAX_PATTERNS or any(len(text) > MAX_PATTERN_LENGTH for text in found[name]):
            _fail(value, f"when.{name} takes at most {MAX_PATTERNS} texts of {MAX_PATTERN_LENGTH} characters")
        if name == "event" and not set(found[name]) <= set(EVENTS):
            _fail(value, f"when.event must name events among {', '.join(EVENTS)}")
    return When(line=key.start_mark.line + 1, **found)


def _steps(node):
    if not isinstance(node, yaml.SequenceNode) or not node.value:
        _fail(node, "steps must be a list of steps, each with a name and commands")
    if len(node.value) > MAX_STEPS:
        _fail(node, f"at most {MAX_STEPS} steps")
    steps = []
    for item in node.value:
        if not isinstance(item, yaml.MappingNode):
            _fail(item, "each step must be a mapping with a name and commands")
        fields = {_scalar_text(key, "a step key"): (key, value) for key, value in item.value}
        for name, (key, _) in fields.items():
            if name not in STEP_KEYS:
                _fail(key, f"unknown step key {name!r}; a step has a name, commands and perhaps when")
        if "name" not in fields or "commands" not in fields:
            _fail(item, "each step needs a name and commands")
        commands = fields["commands"][1]
        if isinstance(commands, yaml.ScalarNode):
            commands = yaml.SequenceNode("tag:yaml.org,2002:seq", [commands], commands.start_mark, commands.end_mark)
        if not isinstance(commands, yaml.SequenceNode) or not commands.value:
            _fail(commands, "commands must be a command or a list of commands")
        steps.append(Step(
            name=_scalar_text(fields["name"][1], "a step name")[:100],
            commands=tuple(_scalar_text(c, "each command") for c in commands.value),
            when=_when(fields["when"][1], fields["when"][0]) if "when" in fields else None,
        ))
    return tuple(steps)


def parse(text):
    """Return the Plan a .stoker.yml describes, or raise PlanError naming the line at fault."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f" line {mark.line + 1}" if mark else ""
        words = " ".join(part for part in (exc.context, exc.problem) if part)
        raise PlanError(f"{FILENAME}{line}: {words}") from None
    except yaml.YAMLError as exc:
        raise PlanError(f"{FILENAME}: {exc}") from None
    if root is None or not isinstance(root, yaml.MappingNode):
        raise PlanError(f"{FILENAME} line 1: the file must be a mapping with steps")
    found, keys = {}, {}
    for key, value in root.value:
        name = _scalar_text(key, "a key")
        if name not in KEYS:
            _fail(key, f"unknown key {name!r}; the keys are {', '.join(sorted(KEYS))}")
        found[name], keys[name] = value, key
    if "steps" not in found:
        raise PlanError(f"{FILENAME} line 1: steps are missing")
    image = None
    if "image" in found:
        image = _scalar_text(found["image"], "image")
        if not IMAGE_REFERENCE.fullmatch(image):
            _fail(found["image"], f"image {image!r} is not a Docker image reference")
    return Plan(
        steps=_steps(found["steps"]),
        image=image,
        timeout=_timeout(found["timeout"]) if "timeout" in found else None,
        env=_env(found["env"]) if "env" in found else {},
        when=_when(found["when"], keys["when"]) if "when" in found else None,
    )
