"""The `.stoker.yml` a repository may carry: image, env, timeout and steps, checked line by line.

Every error names the line of the file it is about, so a user can go
straight to it.
"""
import math
import re
import shlex
from dataclasses import dataclass, field, replace
from itertools import product

import yaml

from . import caches, plugins
from .artifacts import ArtifactPlan
from .git.checkout import Clone
from .globs import MAX_PATTERN_LENGTH, MAX_PATTERNS, check_patterns
from .imagebuilder import is_image_builder
from .images import IMAGE_REFERENCE
from .when import When
from .words import After, Event

FILENAME = ".stoker.yml"
KEYS = {"image", "env", "timeout", "steps", "when", "services", "matrix", "cache", "clone", "labels", "artifacts"}
# The most labels a build may ask its host to carry ("arch=arm64", "gpu").
MAX_LABELS = 20
MAX_COMBINATIONS = 16
CLONE_KEYS = ("depth", "submodules", "lfs", "skip")
ARTIFACT_KEYS = ("paths", "reports", "when")
DEPTH = re.compile(r"[1-9][0-9]{0,8}")
STEP_KEYS = ("name", "commands", "when", "image", "pull", "environment", "secrets", "depends_on", "failure",
             "entrypoint", "settings")
WHEN_KEYS = ("event", "branch", "path", "status")
SERVICE_KEYS = ("name", "image", "commands", "environment", "entrypoint")
# A service's name is the host name steps reach it by.
SERVICE_NAME = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
MAX_SERVICES = 10
PULL_POLICIES = ("if-missing", "always", "never")
FAILURE_POLICIES = ("fail", "ignore")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# An entrypoint's words: at most so many, each at most so long.
MAX_ENTRYPOINT_WORDS, MAX_ENTRYPOINT_WORD = 64, 4096
# In the file's image or a step's, a matrix value by name: "golang:${GO_VERSION}".
MATRIX_VALUE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
DURATION = re.compile(r"(\d+)\s*(s|m|h)?")
MAX_STEPS, MAX_TIMEOUT = 100, 7 * 24 * 3600
# As the build's steps and their logs keep it, with its matrix combination.
MAX_STEP_NAME = 100
# As IMAGE_REFERENCE allows.
MAX_IMAGE = 255
IMAGE_BUILDER_ALONE = ("stoker-image-builder runs alone, as a plugin: a step of its own with settings, "
                       "no commands and no entrypoint")
# What the file may hold, counted before it is composed. A real file has a few hundred values,
# nested at most five deep (the file, steps, a step, its when, when.status). 20000 values compose
# into some 6 MB of nodes; the 128000 of a 256 KB list would be 40 MB. libyaml's composer recurses
# in C once a level, and a file of nothing but [[[[... would crash the process.
MAX_VALUES, MAX_DEPTH = 20_000, 8
# libyaml's parser when PyYAML has it: it reads a file ten times as fast as PyYAML's own.
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


# What a run's variables may not set: what decides which programs run and how (the shell's, the
# loader's), and what Stoker itself tells the build.
REFUSED_VARIABLES = {"PATH", "HOME", "SHELL", "ENV", "BASH_ENV", "IFS", "CDPATH", "PS4", "PROMPT_COMMAND", "CI",
                     "SHELLOPTS", "BASHOPTS", "NODE_OPTIONS", "NODE_PATH", "PERL5OPT", "PERL5LIB", "PERLLIB",
                     "RUBYOPT", "RUBYLIB", "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS", "CLASSPATH",
                     "LESSOPEN", "LESSCLOSE", "PAGER", "EDITOR", "VISUAL", "BROWSER", "SSL_CERT_FILE",
                     "SSL_CERT_DIR", "CURL_CA_BUNDLE", "REQUESTS_CA_BUNDLE", "NO_PROXY", "HTTP_PROXY",
                     "HTTPS_PROXY", "ALL_PROXY", "FTP_PROXY"}
REFUSED_PREFIXES = ("LD_", "DYLD_", "STOKER_", "CI_", "PYTHON", "GIT_", "BASH_FUNC_", "NPM_CONFIG_", "PIP_",
                    "DOCKER_", "GCONV_", "MALLOC_", "PLUGIN_")


def run_variable_refused(name):
    """Why a run may not set the variable `name`, or None. Names are compared in upper case: tools
    read `https_proxy` as well as `HTTPS_PROXY`."""
    if name.upper() in REFUSED_VARIABLES or name.upper().startswith(REFUSED_PREFIXES):
        return "it decides what runs or where it connects, or it is Stoker's to set (see the README's list)"
    return None


class PlanError(ValueError):
    """What is wrong with a .stoker.yml, starting with the line it is on."""


@dataclass(frozen=True)
class Step:
    name: str
    commands: tuple
    when: When | None = None
    # Its own image (else the file's, else the project's), and when to pull it.
    image: str | None = None
    pull: str = "if-missing"
    # The steps it waits for, as written; None: the step before it (see Plan.needs).
    depends_on: tuple | None = None
    # "ignore": its failure fails neither the build nor the steps after it.
    failure: str = "fail"
    line: int = field(default=0, compare=False)
    # The matrix combination it runs for, as (name, value) pairs given to it as variables.
    matrix: tuple = ()
    # Its own variables, as (name, value) pairs, over the file's env and the matrix's.
    environment: tuple = ()
    # The names of the project's secrets it is given; None: all of them (a plugin step's: none).
    secrets: tuple | None = None
    # What its container runs: with commands, the shell they run in; else the program (None: the image's).
    entrypoint: tuple | None = None
    # A plugin step's settings (see pipeline/plugins.py), given as PLUGIN_* variables.
    settings: tuple = ()

    @property
    def statuses(self):
        """What must have happened before it for it to run: success, failure or either."""
        return self.when.status if self.when is not None and self.when.status else (After.SUCCESS,)

    def script(self):
        """A POSIX shell script that prints each command, runs it, and stops at the first failure;
        None for a step without commands, which runs its image's entrypoint."""
        if not self.commands:
            return None
        lines = ["set -e"]
        for command in self.commands:
            lines += [f"printf '%s\\n' {shlex.quote('$ ' + command)}", command]
        return "\n".join(lines)


@dataclass(frozen=True)
class Service:
    """A container started before the first step, which steps reach by its name."""

    name: str
    image: str | None = None
    # None: the image's own command.
    commands: tuple | None = None
    environment: dict = field(default_factory=dict)
    # As a step's (see Step.entrypoint).
    entrypoint: tuple | None = None

    def script(self):
        return " && ".join(self.commands) if self.commands else None


@dataclass(frozen=True)
class Plan:
    steps: tuple
    image: str | None = None
    timeout: int | None = None
    env: dict = field(default_factory=dict)
    when: When | None = None
    services: tuple = ()
    # Each combination of the matrix, as (name, value) pairs; () for none.
    matrix: tuple = ()
    # Paths of the workspace kept from one build for the next (see pipeline/caches.py).
    cache: tuple = ()
    # How the workspace is checked out (see pipeline/git/checkout.py).
    clone: Clone = Clone()
    # What the worker or agent that runs it must carry, each label ("gpu", "arch=arm64").
    labels: tuple = ()
    # What of the workspace is kept once the steps end (see pipeline/artifacts.py); None: nothing.
    artifacts: ArtifactPlan | None = None

    def expanded(self):
        """The plan with its steps once per matrix combination, each named for it ("test (PY=3.12)")
        and waiting on its own combination's steps; the plan itself when it has no matrix."""
        if not self.matrix:
            return self
        needs, steps = self.needs(), []
        for combination in self.matrix:
            label = _label(combination)
            # Each name made once and shared by the depends_on naming it, not made again for each.
            named = {step.name: f"{step.name} ({label})" for step in self.steps}
            steps += [replace(step, name=named[step.name], matrix=combination,
                              image=_with_matrix(step.image or self.image, combination) or step.image,
                              depends_on=tuple(named[needed] for needed in needs[step.name]))
                      for step in self.steps]
        return replace(self, steps=tuple(steps), matrix=())

    def needs(self):
        """Each step's name and the names of the steps it waits for: those it names in depends_on,
        else the one before it (so a file without depends_on runs in order, as it always has)."""
        return {step.name: step.depends_on if step.depends_on is not None else self._before(index)
                for index, step in enumerate(self.steps)}

    def in_order(self):
        """Whether each step waits for the one before it alone: then no two ever run side by side."""
        needs = self.needs()
        return all(needs[step.name] == self._before(index) for index, step in enumerate(self.steps))

    def _before(self, index):
        return (self.steps[index - 1].name,) if index else ()


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


def _env(node, what="env"):
    if not isinstance(node, yaml.MappingNode):
        _fail(node, f"{what} must be a mapping of NAME: value")
    env = {}
    for key, value in node.value:
        name = _scalar_text(key, f"an {what} name")
        if not ENV_NAME.fullmatch(name):
            _fail(key, f"{what} name {name!r} must be letters, digits and _, not starting with a digit")
        if not isinstance(value, yaml.ScalarNode):
            _fail(value, f"{what} {name} must be a single value")
        if "\0" in value.value:
            _fail(value, f"{what} {name} holds a NUL character, which no variable can")
        env[name] = value.value
    return env


def _texts(node, what):
    """A text or a list of texts, as a tuple."""
    items = node.value if isinstance(node, yaml.SequenceNode) else [node]
    if not items:
        _fail(node, f"{what} must be a text or a list of texts")
    return tuple(_scalar_text(item, what) for item in items)


def _keyed(node, what, keys):
    """(name, value node) of each key of the non-empty mapping `node` (`what`), each one of `keys`."""
    if not isinstance(node, yaml.MappingNode) or not node.value:
        _fail(node, f"{what} must be a mapping of {', '.join(keys)}")
    for key, value in node.value:
        name = _scalar_text(key, f"a {what} key")
        if name not in keys:
            _fail(key, f"unknown {what} key {name!r}; the keys are {', '.join(keys)}")
        yield name, value


def _when(node, key):
    """The `when` whose key is `key` and whose mapping is `node`."""
    found = {}
    for name, value in _keyed(node, "when", WHEN_KEYS):
        found[name] = _texts(value, f"when.{name}")
        if len(found[name]) > MAX_PATTERNS or any(len(text) > MAX_PATTERN_LENGTH for text in found[name]):
            _fail(value, f"when.{name} takes at most {MAX_PATTERNS} texts of {MAX_PATTERN_LENGTH} characters")
        if name == "event" and not set(found[name]) <= set(Event.ALL):
            _fail(value, f"when.event must name events among {', '.join(Event.ALL)}")
        if name == "status" and not set(found[name]) <= set(After.ALL):
            _fail(value, f"when.status must be {' or '.join(After.ALL)}, or both")
    return When(line=key.start_mark.line + 1, **found)


def _items(node, what, most, keys, needed, has):
    """Each item of a list of `what`s (steps, services) with its {key: (key node, value node)}:
    the list non-empty and at most `most` long, each item a mapping of `keys` with the `needed` ones."""
    wanted = " and ".join(f"a {key}" if key == "name" else key for key in needed)
    if not isinstance(node, yaml.SequenceNode) or not node.value:
        _fail(node, f"{what}s must be a list of {what}s, each with {wanted}")
    if len(node.value) > most:
        _fail(node, f"at most {most} {what}s")
    for item in node.value:
        if not isinstance(item, yaml.MappingNode):
            _fail(item, f"each {what} must be a mapping with {wanted}")
        fields = {_scalar_text(key, f"a {what} key"): (key, value) for key, value in item.value}
        for name, (key, _) in fields.items():
            if name not in keys:
                _fail(key, f"unknown {what} key {name!r}; a {what} has {has}")
        if any(key not in fields for key in needed):
            _fail(item, f"each {what} needs {wanted}")
        yield item, fields


def _steps(node, matrix=()):
    steps = []
    for item, fields in _items(node, "step", MAX_STEPS, STEP_KEYS, ("name",),
                               f"a name, commands and perhaps {', '.join(STEP_KEYS[2:])}"):
        if not {"commands", "image", "entrypoint", "settings"} & set(fields):
            _fail(item, "each step needs a name and commands, or an image whose entrypoint it runs")
        if "commands" in fields and "settings" in fields:
            _fail(fields["settings"][0], "a step has commands or settings, not both: settings are a plugin's, "
                                         "which runs its image's entrypoint")
        if "image" in fields and is_image_builder(_scalar_text(fields["image"][1], "image")):
            for key in ("commands", "entrypoint"):
                if key in fields:
                    _fail(fields[key][0], IMAGE_BUILDER_ALONE)
            # Its container may make namespaces: nothing but its settings steers what runs there.
            for key in ("environment", "secrets"):
                if key in fields:
                    _fail(fields[key][0], f"stoker-image-builder takes settings alone, not {key}: "
                                          "a value from a secret is a setting's from_secret")
        steps.append(Step(
            name=_scalar_text(fields["name"][1], "a step name")[:MAX_STEP_NAME],
            commands=_commands(fields["commands"][1]) if "commands" in fields else (),
            entrypoint=_entrypoint(fields["entrypoint"][1]) if "entrypoint" in fields else None,
            settings=_settings(fields["settings"][1]) if "settings" in fields else (),
            when=_when(fields["when"][1], fields["when"][0]) if "when" in fields else None,
            image=_image(fields["image"][1], matrix, builder=True) if "image" in fields else None,
            pull=_choice(fields["pull"][1], "pull", PULL_POLICIES) if "pull" in fields else "if-missing",
            environment=tuple(_env(fields["environment"][1], "environment").items()) if "environment" in fields else (),
            # A plugin's image is someone else's code: it gets the secrets its settings or `secrets:` name.
            secrets=(_secret_names(fields["secrets"][1]) if "secrets" in fields
                     else () if "settings" in fields else None),
            depends_on=_depends_on(fields["depends_on"][1]) if "depends_on" in fields else None,
            failure=_choice(fields["failure"][1], "failure", FAILURE_POLICIES) if "failure" in fields else "fail",
            line=item.start_mark.line + 1,
        ))
    _check_graph(steps, {step.name: fields for step, fields in zip(steps, _step_fields(node))})
    for step in steps:
        for combination in matrix:
            if len(named := f"{step.name} ({_label(combination)})") > MAX_STEP_NAME:
                raise PlanError(f"{FILENAME} line {step.line}: step {named!r} is {len(named)} characters with its "
                                f"matrix combination; at most {MAX_STEP_NAME}")
    return tuple(steps)


def _services(node, image):
    services = []
    for _, fields in _items(node, "service", MAX_SERVICES, SERVICE_KEYS, ("name",), ", ".join(SERVICE_KEYS)):
        name = _scalar_text(fields["name"][1], "a service name")
        if not SERVICE_NAME.fullmatch(name):
            _fail(fields["name"][1], f"service name {name!r} must be a host name: a-z, 0-9 and '-'")
        if name in (service.name for service in services):
            _fail(fields["name"][1], f"two services are called {name!r}")
        if "image" not in fields and image and MATRIX_VALUE.search(image):
            _fail(fields["name"][1], f"service {name!r} needs an image of its own: the file's varies with the matrix")
        services.append(Service(
            name=name,
            image=_image(fields["image"][1]) if "image" in fields else None,
            commands=_texts(fields["commands"][1], "each command") if "commands" in fields else None,
            environment=_env(fields["environment"][1], "environment") if "environment" in fields else {},
            entrypoint=_entrypoint(fields["entrypoint"][1]) if "entrypoint" in fields else None,
        ))
    return tuple(services)


def _commands(node):
    if isinstance(node, yaml.ScalarNode):
        node = yaml.SequenceNode("tag:yaml.org,2002:seq", [node], node.start_mark, node.end_mark)
    if not isinstance(node, yaml.SequenceNode) or not node.value:
        _fail(node, "commands must be a command or a list of commands")
    return tuple(_scalar_text(command, "each command") for command in node.value)


def _entrypoint(node):
    """A program and its arguments: a list of texts, or one text split as a shell would split it."""
    if isinstance(node, yaml.ScalarNode):
        try:
            words = shlex.split(_scalar_text(node, "entrypoint"))
        except ValueError as exc:
            _fail(node, f"entrypoint cannot be split into words: {exc}")
    elif isinstance(node, yaml.SequenceNode):
        words = [_scalar_text(word, "each word of entrypoint") for word in node.value]
    else:
        words = []
    if not words or len(words) > MAX_ENTRYPOINT_WORDS or any(
            not word or len(word) > MAX_ENTRYPOINT_WORD or "\0" in word for word in words):
        _fail(node, f"entrypoint must be a program and its arguments: a text or a list of at most "
                    f"{MAX_ENTRYPOINT_WORDS} texts, none empty")
    return tuple(words)


def _settings(node):
    try:
        return plugins.read_settings(node)
    except plugins.SettingError as exc:
        _fail(exc.node, str(exc))


def _matrix(node):
    """Every combination a matrix names: the product of its lists, then its `include:` maps; counted
    before any is made, since six lists of forty values, a few hundred bytes, make four billion."""
    if not isinstance(node, yaml.MappingNode) or not node.value:
        _fail(node, "matrix must map names to lists of values, or have include: a list of maps")
    axes, included = [], []
    for key, value in node.value:
        name = _scalar_text(key, "a matrix name")
        if name == "include":
            if not isinstance(value, yaml.SequenceNode) or not value.value:
                _fail(value, "matrix include must be a list of maps of NAME: value")
            included += [tuple(_env(item).items()) for item in value.value]
            continue
        if not ENV_NAME.fullmatch(name):
            _fail(key, f"matrix name {name!r} must be letters, digits and _, not starting with a digit")
        if not isinstance(value, yaml.SequenceNode) or not value.value:
            _fail(value, f"matrix {name} must be a list of values")
        axes.append([(name, _scalar_text(item, f"a value of matrix {name}")) for item in value.value])
    count = (math.prod(len(axis) for axis in axes) if axes else 0) + len(included)
    if count > MAX_COMBINATIONS:
        _fail(node, f"the matrix makes {count if count < 10**6 else 'over a million'} combinations; "
                    f"at most {MAX_COMBINATIONS}")
    combinations = tuple(tuple(chosen) for chosen in product(*axes)) if axes else ()
    return combinations + tuple(included)


def _cache(node):
    items = node.value if isinstance(node, yaml.SequenceNode) else [node]
    if not items or len(items) > caches.MAX_PATHS:
        _fail(node, f"cache must be a path or a list of at most {caches.MAX_PATHS} paths")
    paths = []
    for item in items:
        try:
            paths.append(caches.check_path(_scalar_text(item, "a cache path")))
        except ValueError as exc:
            _fail(item, str(exc))
    return tuple(dict.fromkeys(paths))


def _artifacts(node):
    """Glob patterns of files to keep (a list), or a mapping of `paths`, `reports` (JUnit XML files,
    kept and read for the build's test counts) and `when` (success, the default, or always)."""
    found = {}
    if isinstance(node, yaml.MappingNode):
        for name, value in _keyed(node, "artifacts", ARTIFACT_KEYS):
            found[name] = value
    else:
        found["paths"] = node
    plan = {}
    for name in ("paths", "reports"):
        if name in found:
            try:
                plan[name] = tuple(check_patterns(list(_texts(found[name], f"artifacts.{name}")), f"artifacts.{name}"))
            except ValueError as exc:
                _fail(found[name], str(exc))
    if "when" in found:
        plan["when"] = _scalar_text(found["when"], "artifacts.when")
        if plan["when"] not in ("success", "always"):
            _fail(found["when"], "artifacts.when must be success or always")
    if not plan.get("paths") and not plan.get("reports"):
        _fail(node, "artifacts must name paths or reports")
    return ArtifactPlan(**plan)


def _labels(node):
    """A list of labels, or a mapping of names to values (`arch: arm64` is the label arch=arm64)."""
    if isinstance(node, yaml.MappingNode):
        labels = [f"{_scalar_text(key, 'a label name')}={_scalar_text(value, 'a label value')}"
                  for key, value in node.value]
    elif isinstance(node, yaml.SequenceNode):
        labels = [_scalar_text(item, "a label") for item in node.value]
    else:
        labels = [_scalar_text(node, "a label")]
    if not 1 <= len(labels) <= MAX_LABELS or not all(
            1 <= len(label) <= 100 and label.isprintable() and label.strip() == label and "," not in label
            for label in labels):
        _fail(node, f"labels must be 1 to {MAX_LABELS} labels (a list, or names and values), each 1 to 100 "
                    f"printable characters without commas")
    return tuple(sorted(set(labels)))


def _clone(node):
    found = {}
    for name, value in _keyed(node, "clone", CLONE_KEYS):
        if name == "depth":
            if value.tag != "tag:yaml.org,2002:int" or not DEPTH.fullmatch(value.value):
                _fail(value, "clone.depth must be a whole number of commits, 1 or more")
            found[name] = int(value.value)
        else:
            if value.tag != "tag:yaml.org,2002:bool":
                _fail(value, f"clone.{name} must be true or false")
            found[name] = value.value.lower() in ("true", "yes", "on", "y")
    return Clone(**found)


def _label(combination):
    return ", ".join(f"{name}={value}" for name, value in combination)


def _step_fields(node):
    return [{key.value: key for key, _ in item.value} for item in node.value]


def _image(node, matrix=None, builder=False):
    """An image reference. In the file's image or a step's (`matrix` not None), ${NAME} is a matrix
    value: the reference must then hold for every combination. Only a step's (`builder`) may be
    Stoker's image builder."""
    image = _scalar_text(node, "image")
    if not builder and is_image_builder(image):
        _fail(node, IMAGE_BUILDER_ALONE)
    for combination in matrix or ((),):
        names, used = dict(combination), MATRIX_VALUE.findall(image)
        for name in used:
            if matrix is None:
                _fail(node, f"a service runs once for every combination: its image cannot use ${{{name}}}")
            if name not in names:
                _fail(node, f"image {image!r} uses ${{{name}}}, which "
                            + ("a matrix combination does not give" if matrix else "only a matrix gives"))
        # Measured before it is made: a long value in each of many ${NAME}s makes gigabytes.
        length = len(image) + sum(len(names[name]) - len(f"${{{name}}}") for name in used)
        if length > MAX_IMAGE:
            _fail(node, f"image is {length} characters" + (" with its matrix values" if used else "")
                        + f"; at most {MAX_IMAGE}")
        made = _with_matrix(image, combination) or image
        if not IMAGE_REFERENCE.fullmatch(made):
            _fail(node, f"image {made!r} is not a Docker image reference")
    return image


def _with_matrix(image, combination):
    """The image with the combination's values in place of its ${NAME}s; None if it has none."""
    if not image or not MATRIX_VALUE.search(image):
        return None
    values = dict(combination)
    return MATRIX_VALUE.sub(lambda found: values[found.group(1)], image)


def _choice(node, what, choices):
    value = _scalar_text(node, what)
    if value not in choices:
        _fail(node, f"{what} must be one of {', '.join(choices)}")
    return value


def _secret_names(node):
    names = _names(node, "secrets")
    for name, item in zip(names, node.value if isinstance(node, yaml.SequenceNode) else [node]):
        if not ENV_NAME.fullmatch(name):
            _fail(item, f"secrets names {name!r}, which is no secret's name: letters, digits and _")
    return names


def _depends_on(node):
    # Each name once: a list of one name given thousands of times would be checked, and made
    # again for each matrix combination, thousands of times.
    return tuple(dict.fromkeys(_names(node, "depends_on")))


def _names(node, what):
    """A text or a list of texts, as a tuple; `[]` for none."""
    if isinstance(node, yaml.SequenceNode) and not node.value:
        return ()
    return _texts(node, what)


def _check_graph(steps, keys):
    """Every name a depends_on gives is one step's, and no step waits on itself, however far round."""
    names = [step.name for step in steps]
    for step in steps:
        for needed in step.depends_on or ():
            key = keys[step.name].get("depends_on")
            if needed not in names:
                _fail(key, f"depends_on names {needed!r}, which is no step's name")
            if names.count(needed) > 1:
                _fail(key, f"depends_on names {needed!r}, which more than one step is called")
    needs = Plan(tuple(steps)).needs()
    done, visiting = set(), []

    def visit(name):
        if name in done:
            return
        if name in visiting:
            cycle = visiting[visiting.index(name):] + [name]
            first = next(step for step in steps if step.name == cycle[0])
            raise PlanError(f"{FILENAME} line {first.line}: the steps wait on each other in a cycle: "
                            f"{' -> '.join(cycle)}")
        visiting.append(name)
        for needed in needs[name]:
            visit(needed)
        visiting.pop()
        done.add(name)

    for name in names:
        visit(name)


def _measure(text):
    """Refuse, from the parser's events and before any node is made, what would make a small file
    big or deep once read: an anchor or alias (each alias is the anchored value again, however
    large, and aliases of aliases multiply at each level), more than MAX_VALUES values, or nesting
    deeper than MAX_DEPTH."""
    values = depth = 0
    for event in yaml.parse(text, Loader=LOADER):
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            _fail(event, "anchors and aliases (&, *) are not supported")
        if isinstance(event, (yaml.ScalarEvent, yaml.CollectionStartEvent)):
            values += 1
            if values > MAX_VALUES:
                _fail(event, f"the file has more than {MAX_VALUES} values; at most {MAX_VALUES}")
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                _fail(event, f"lists and mappings nest more than {MAX_DEPTH} deep here; at most {MAX_DEPTH}")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def parse(text):
    """Return the Plan a .stoker.yml describes, or raise PlanError naming the line at fault.

    The file is measured before it is expanded: what it holds is counted from the parser's events,
    a matrix from its lists' lengths and an image from its values', each refused past its bound."""
    try:
        _measure(text)
        root = yaml.compose(text, Loader=LOADER)
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
    matrix = _matrix(found["matrix"]) if "matrix" in found else ()
    image = _image(found["image"], matrix) if "image" in found else None
    return Plan(
        steps=_steps(found["steps"], matrix),
        image=image,
        timeout=_timeout(found["timeout"]) if "timeout" in found else None,
        env=_env(found["env"]) if "env" in found else {},
        when=_when(found["when"], keys["when"]) if "when" in found else None,
        services=_services(found["services"], image) if "services" in found else (),
        matrix=matrix,
        cache=_cache(found["cache"]) if "cache" in found else (),
        clone=_clone(found["clone"]) if "clone" in found else Clone(),
        labels=_labels(found["labels"]) if "labels" in found else (),
        artifacts=_artifacts(found["artifacts"]) if "artifacts" in found else None,
    )
