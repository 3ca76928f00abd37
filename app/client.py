"""`stoker login|projects|builds|logs|run|rebuild|cancel|approve|lint`: Stoker's API from a terminal.

`stoker login URL` keeps an API token of the user's in their config (mode 0600); every other command
speaks to that server with it. Output is for people by default, JSON with `--json`. `logs -f` follows
a build live over Socket.IO, and after a dropped connection asks for the log from the byte it holds,
so no line is lost or shown twice.
"""
import getpass
import json
import os
import socket
import sys
import threading
import time
from pathlib import Path

import requests
import socketio

FINISHED = ("passed", "failed", "canceled", "declined", "skipped")
TIMEOUT = 30


class ClientError(Exception):
    """What the command says before it exits with 1."""


def config_path():
    root = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(root) / "stoker" / "client.json"


def saved():
    try:
        data = json.loads(config_path().read_text())
    except (OSError, ValueError):
        raise ClientError("not logged in: run `stoker login URL` first") from None
    return data["url"], data["token"]


def save(url, token):
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # Written where no one else may read it, from the first byte.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump({"url": url, "token": token}, out)


class Api:
    def __init__(self, url, token=None):
        self.url, self.token = url.rstrip("/"), token
        self.session = requests.Session()
        self.session.trust_env = False
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def call(self, method, path, body=None, **options):
        try:
            answer = self.session.request(method, f"{self.url}/api{path}", json=body, timeout=TIMEOUT,
                                          allow_redirects=False, **options)
        except requests.RequestException as exc:
            raise ClientError(f"cannot reach {self.url}: {type(exc).__name__}") from None
        if answer.status_code >= 300:
            try:
                message = answer.json()["message"]
            except (ValueError, KeyError, TypeError):
                message = answer.reason
            raise ClientError(f"{answer.status_code}: {message}")
        return answer

    def json(self, method, path, body=None):
        return self.call(method, path, body).json()


def _project(api, name_or_id):
    """The project the user named, by id or name."""
    projects = api.json("GET", "/project/projects")["projects"]
    for project in projects:
        if str(project["id"]) == name_or_id or project["name"] == name_or_id:
            return project
    raise ClientError(f"no project {name_or_id!r} of yours")


def _build_id(text):
    if not text.isdecimal():
        raise ClientError(f"a build is its number, not {text!r}")
    return int(text)


def _out(args, data, lines):
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        for line in lines:
            # What others wrote (a commit message, a branch) never reaches the terminal as a control.
            print("".join(ch if ch.isprintable() else "?" for ch in line))


def login(args):
    api = Api(args.url)
    if args.token:
        token = args.token
        Api(args.url, token).json("GET", "/project/projects")
    else:
        username = args.username or input("Username: ")
        password = sys.stdin.readline().rstrip("\n") if not sys.stdin.isatty() else getpass.getpass()
        session = api.json("POST", "/auth/login", {"username": username, "password": password})["accessToken"]
        made = Api(args.url, session).json("POST", "/auth/tokens", {
            "name": f"stoker on {socket.gethostname()}"[:100], "scope": "write"})
        token = made["token"]["value"]
    save(args.url.rstrip("/"), token)
    print(f"Logged in to {args.url}; the token is in {config_path()}", file=sys.stderr)


def projects(args):
    api = Api(*saved())
    found = api.json("GET", "/project/projects")["projects"]
    _out(args, found, [f"{project['id']:>5}  {project['name']:<30} "
                       f"{(project.get('latestBuild') or {}).get('status', '-'):<9} {project['branch']}"
                       for project in found])


def builds(args):
    api = Api(*saved())
    project = _project(api, args.project)
    page = api.json("GET", f"/project/projects/{project['id']}/builds?limit={args.limit}")["builds"]
    _out(args, page, [f"{build['id']:>6}  {build['status']:<9} {build['branch']:<20} {build['commitHash'][:12]}  "
                      f"{(build['commit'] or '').splitlines()[0][:60] if build['commit'] else ''}"
                      for build in page])


def run(args):
    api = Api(*saved())
    project = _project(api, args.project)
    variables = {}
    for pair in args.var or ():
        name, equals, value = pair.partition("=")
        if not equals:
            raise ClientError(f"--var takes NAME=value, not {pair!r}")
        variables[name] = value
    body = {"variables": variables} if variables else {}
    if args.branch:
        body["branch"] = args.branch
    build = api.json("POST", f"/project/projects/{project['id']}/builds", body)["build"]
    return _started(api, args, build)


def rebuild(args):
    api = Api(*saved())
    return _started(api, args, api.json("POST", f"/build/rebuild/{_build_id(args.build)}")["build"])


def cancel(args):
    api = Api(*saved())
    build = api.json("POST", f"/build/{_build_id(args.build)}/cancel")["build"]
    _out(args, build, [f"Build {build['id']} {build['status']}"])


def approve(args):
    api = Api(*saved())
    build = api.json("POST", f"/build/{_build_id(args.build)}/approve")["build"]
    _out(args, build, [f"Build {build['id']} {build['status']}"])


def _started(api, args, build):
    if not getattr(args, "wait", False):
        _out(args, build, [f"Build {build['id']} {build['status']}"])
        return 0
    print(f"Build {build['id']} {build['status']}", file=sys.stderr)
    started, status = time.monotonic(), build["status"]
    while status not in FINISHED:
        time.sleep(1)
        build = api.json("GET", f"/build/{build['id']}")["build"]
        if build["status"] != status or sys.stderr.isatty():
            status = build["status"]
            waited = f" ({build['queueReason']})" if status == "queued" and build.get("queueReason") else ""
            print(f"\rBuild {build['id']} {status}{waited} after {time.monotonic() - started:.0f} s",
                  end="" if sys.stderr.isatty() else "\n", file=sys.stderr)
    if sys.stderr.isatty():
        print(file=sys.stderr)
    _out(args, build, [f"Build {build['id']} {status}"])
    return 0 if status == "passed" else 1


def logs(args):
    """The build's log; with -f, followed until the build ends, then the exit code says how."""
    api = Api(*saved())
    build_id = _build_id(args.build)
    follower = Follower(api, build_id, sys.stdout.buffer)
    follower.catch_up()
    if not args.follow:
        return 0
    return follower.follow()


class Follower:
    """Writes a build's log as it grows: pieces from the live connection at the offset held, and
    from the API whenever one does not follow on (after a drop, or a piece missed)."""

    def __init__(self, api, build_id, out):
        self.api, self.build_id, self.out = api, build_id, out
        self.offset, self.status = 0, None
        self.lock, self.ended = threading.Lock(), threading.Event()

    def catch_up(self):
        with self.lock:
            answer = self.api.call("GET", f"/build/{self.build_id}/logs?offset={self.offset}")
            if answer.content:
                self.out.write(answer.content)
                self.out.flush()
            self.offset = int(answer.headers["X-Log-Next-Offset"])
            self.status = answer.headers.get("X-Build-Status")

    def piece(self, piece):
        if piece.get("buildId") != self.build_id:
            return
        data = piece["data"].encode()
        with self.lock:
            if piece["offset"] == self.offset:
                self.out.write(data)
                self.out.flush()
                self.offset += len(data)
                return
            if piece["offset"] + len(data) <= self.offset:
                return  # held already
        self.catch_up()

    def changed(self, build):
        if build.get("id") == self.build_id and build.get("status") in FINISHED:
            self.ended.set()

    def follow(self):
        client = socketio.Client(reconnection=True, reconnection_delay=0.5, reconnection_delay_max=5)
        client.on("buildLog", self.piece)
        client.on("buildStatusUpdate", self.changed)
        # Each (re)connection first fetches what was written while there was none.
        client.on("connect", lambda: threading.Thread(target=self._after_connect, daemon=True).start())
        try:
            client.connect(self.api.url, auth={"token": self.api.token}, wait_timeout=10)
        except socketio.exceptions.ConnectionError as exc:
            raise ClientError(f"cannot follow the build live: {exc}") from None
        try:
            while not self.ended.wait(5):
                if self.status in FINISHED:
                    break
                try:
                    self.catch_up()  # now and then, in case the connection misses what it never says
                except ClientError:
                    pass
        finally:
            client.disconnect()
        self.catch_up()
        return 0 if self.status == "passed" else 1

    def _after_connect(self):
        try:
            self.catch_up()
        except ClientError:
            pass
        if self.status in FINISHED:
            self.ended.set()


def lint(args):
    api = Api(*saved())
    path = Path(args.file)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise ClientError(f"cannot read {path}: {exc}") from None
    said = api.json("POST", "/lint", {"text": text})
    _out(args, said, [f"{path}: fine ({said['steps']} step(s))"] if said["valid"] else
         [f"{path}:{problem['line'] or 1}: {problem['message']}" for problem in said["problems"]])
    return 0 if said["valid"] else 1


def add_commands(commands):
    """The client's commands, on `stoker`'s parser."""
    def command(name, run_it, help_text):
        made = commands.add_parser(name, help=help_text)
        made.add_argument("--json", action="store_true", help="JSON for scripts, not lines for people")
        made.set_defaults(run=lambda args: _main(run_it, args))
        return made

    made = command("login", login, "keep an API token for the server at URL in your config")
    made.add_argument("url")
    made.add_argument("--username")
    made.add_argument("--token", help="an API token made already (else your password is asked for)")
    command("projects", projects, "list your projects")
    made = command("builds", builds, "list a project's newest builds")
    made.add_argument("project", help="its name or id")
    made.add_argument("--limit", type=int, default=20)
    made = command("logs", logs, "print a build's log")
    made.add_argument("build")
    made.add_argument("-f", "--follow", action="store_true", help="follow it live until the build ends")
    made = command("run", run, "build a project's branch now")
    made.add_argument("project")
    made.add_argument("--branch")
    made.add_argument("--var", action="append", metavar="NAME=VALUE", help="a variable of this run (again for more)")
    made.add_argument("--wait", action="store_true", help="wait for its end; the exit code says how it went")
    for name, run_it, help_text in (("rebuild", rebuild, "run a build again"), ("cancel", cancel, "cancel a build"),
                                    ("approve", approve, "let a blocked build (a fork's) run")):
        made = command(name, run_it, help_text)
        made.add_argument("build")
        if name == "rebuild":
            made.add_argument("--wait", action="store_true")
    made = command("lint", lint, "check a pipeline file against the server's rules")
    made.add_argument("file", nargs="?", default=".stoker.yml")


def _main(run_it, args):
    try:
        code = run_it(args)
    except ClientError as exc:
        print(f"stoker {args.command}: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    except KeyboardInterrupt:
        raise SystemExit(130) from None
    raise SystemExit(code or 0)

