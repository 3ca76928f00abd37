"""Fixtures only: a fresh database of each kind, the real Docker engine, real git repositories,
a really running `stoker serve`, and a real browser. What they are made with is in tests/support/.

A service that does not answer fails the run under CI=true and skips, loudly,
anywhere else.
"""
import os
import re
import subprocess
import uuid
from pathlib import Path

import docker
import psycopg2
import pytest
import redis

from app import create_app
from app.records.db import open_database
from app.records.models import db
from app.worker import Worker
from pipeline.imagebuilder import default_image_builder
from pipeline.images import make_busybox_image
from pipeline.mobile.android.builder import default_android_image
from tests.support import (
    CHROMIUM,
    CHROMIUM_ARGS,
    METRICS_TOKEN,
    POSTGRES_ADMIN_DSN,
    REDIS_URL,
    SCREENSHOTS,
    SECRET,
    TEST_IMAGE,
    Accounts,
    FakeForge,
    Listener,
    LocalRepo,
    create_project,
    image_with_entrypoint,
    login,
    start_server,
    stop_server,
    unavailable,
)
from tests.support.offline import guarded

# --- this machine only -------------------------------------------------------

@pytest.fixture(scope="session", autouse=True)
def _connections_tried_off_the_machine():
    """This process connects nowhere but loopback, unix sockets and the tests' own networks
    (tests/support/offline.py). The servers, workers, git and browsers tests start are processes
    of their own, outside this guard: they are kept here by the addresses they are given."""
    with guarded() as tried:
        yield tried


@pytest.fixture(autouse=True)
def _no_traffic_off_the_machine(_connections_tried_off_the_machine):
    """Fail a test that tried to send traffic off the machine, even where the code under test
    caught the refusal."""
    tried = _connections_tried_off_the_machine
    before = len(tried)
    yield
    assert tried[before:] == [], "a test sent traffic off this machine"


# --- databases -------------------------------------------------------------

DATABASE_KINDS = ("sqlite", "postgresql")


def pytest_configure(config):
    config.addinivalue_line("markers", "both_databases: run on PostgreSQL as well as SQLite (claims, locks, "
                                       "pools, migrations, the queue); every other test runs once, on SQLite")


def pytest_generate_tests(metafunc):
    """Run a test that needs a database on SQLite, and on PostgreSQL too when it is marked `both_databases`.

    A test that names its own `database_kind` with parametrize keeps it.
    """
    if "database_kind" not in metafunc.fixturenames:
        return
    if any("database_kind" in marker.args[0] for marker in metafunc.definition.iter_markers("parametrize")):
        return
    kinds = DATABASE_KINDS if metafunc.definition.get_closest_marker("both_databases") else DATABASE_KINDS[:1]
    metafunc.parametrize("database_kind", kinds, indirect=True, scope="session")


@pytest.fixture(scope="session")
def database_kind(request):
    return request.param


@pytest.fixture(scope="session")
def postgres_admin():
    try:
        conn = psycopg2.connect(POSTGRES_ADMIN_DSN, connect_timeout=3)
    except psycopg2.OperationalError as exc:
        unavailable(f"PostgreSQL is not answering at {POSTGRES_ADMIN_DSN}: {exc}")
    conn.autocommit = True
    yield conn
    conn.close()


@pytest.fixture
def database_url(database_kind, tmp_path, request):
    """A URL to an empty database of the kind under test, gone after the test."""
    if database_kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'stoker.db'}"
        return
    admin = request.getfixturevalue("postgres_admin")
    name = f"stoker_test_{uuid.uuid4().hex[:12]}"
    with admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE {name}")
    yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    with admin.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="session")
def redis_url():
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        unavailable(f"Redis is not answering at {REDIS_URL}: {exc}")
    return REDIS_URL


# --- Docker ----------------------------------------------------------------

@pytest.fixture(scope="session")
def docker_client():
    """The local engine, with the busybox test image made if it is missing."""
    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as exc:
        unavailable(f"no Docker engine answers: {exc}")
    try:
        client.images.get(TEST_IMAGE)
    except docker.errors.ImageNotFound:
        make_busybox_image(client, TEST_IMAGE)
    return client


# The image's own entrypoint passes only when given the image's own command: anything else (a shell and
# a script, say) it says it was given, and fails.
OWN_ENTRYPOINT = """#!/bin/sh
echo "own entrypoint given: $*"
[ "$*" = from-cmd ]
"""


@pytest.fixture(scope="session")
def entrypoint_image(docker_client, tmp_path_factory):
    """An image like terraform's or a plugin's, made here: an ENTRYPOINT that runs no shell script."""
    return image_with_entrypoint(docker_client, tmp_path_factory.mktemp("images") / "entrypoint",
                                 "stoker-test-entrypoint:latest", OWN_ENTRYPOINT)


def made_here(docker_client, name, what, command):
    """`name`, an image Stoker makes from Debian's packages (`.ci/run` makes each), or unavailable."""
    try:
        docker_client.images.get(name)
    except docker.errors.ImageNotFound:
        unavailable(f"{what} {name} is missing: run 'stoker {command}'")
    return name


@pytest.fixture(scope="session")
def bundletool():
    """Run bundletool, as Google Play does on an upload, offline."""
    from tests.support.android import bundletool
    return bundletool


@pytest.fixture(scope="session")
def framework_api():
    """Android's public API, from Debian's Android framework sources."""
    from tests.support.android import FrameworkApi, api_file
    return FrameworkApi(api_file().read_text())


@pytest.fixture(scope="session")
def android_image(docker_client):
    """The Android builder image this checkout builds with."""
    return made_here(docker_client, default_android_image(), "the Android builder image", "make-android-image")


@pytest.fixture(scope="session")
def image_builder(docker_client):
    """The image builder this checkout runs for `image: stoker-image-builder`."""
    return made_here(docker_client, default_image_builder(), "the image builder", "make-image-builder")


# --- the app, in this process ----------------------------------------------

@pytest.fixture
def config(database_url, tmp_path):
    return {
        "TESTING": True,
        "DATABASE_URL": database_url,
        "STOKER_DATA_DIR": str(tmp_path / "data"),
        "SECRET_KEY": SECRET,
        "STOKER_ALLOW_LOCAL_REPOS": True,
        "STOKER_BUILD_IMAGE": TEST_IMAGE,
        "STOKER_BUILD_NETWORK": "none",
        # No way out unless a test gives one (tests/app/test_egress.py): each would cost a network.
        "STOKER_BUILD_EGRESS": False,
        "STOKER_PUBLIC_URL": "http://stoker.test",
        # Most tests need several accounts; tests/app/test_accounts.py holds registration by invitation.
        "STOKER_REGISTRATION": "open",
        # Tests pull images from their own registry on loopback, never from the internet.
        "STOKER_PULL_REGISTRIES": ("127.0.0.1",),
        "STOKER_METRICS_TOKEN": METRICS_TOKEN,
    }


@pytest.fixture
def app(config):
    app = create_app(config)
    yield app
    if not db.is_closed():
        db.close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def accounts(client):
    return Accounts(client)


@pytest.fixture
def drain(app, docker_client):
    """Run queued builds in this process until none is left, and what they left is removed; returns
    how many ran."""

    def run():
        worker = Worker(app, "test-worker")
        ran = 0
        while worker.run_once():
            ran += 1
        worker.tidied()
        return ran

    return run


# --- git -------------------------------------------------------------------

@pytest.fixture
def local_repo(tmp_path):
    """A repository whose main branch has one commit with a passing ci.sh."""
    repo = LocalRepo(tmp_path / "repo")
    repo.commit({"ci.sh": "echo building\ntest -f ci.sh\n"}, message="Initial commit")
    return repo


@pytest.fixture
def served(local_repo, tmp_path):
    """The local repository as a bare one under a folder a server serves; returns (root, head)."""
    head = local_repo.commit({"ci.sh": "echo private build ran\n"}, message="Private")
    root = tmp_path / "served"
    subprocess.run(["git", "clone", "-q", "--bare", str(local_repo.path), str(root / "demo.git")], check=True)
    return root, head


# --- a really running server -----------------------------------------------

@pytest.fixture
def live_server(database_url, tmp_path, docker_client):
    server = start_server("serve", {
        "DATABASE_URL": database_url,
        "STOKER_DATA_DIR": str(tmp_path / "live-data"),
        # Webhook targets in tests are on loopback.
        "STOKER_ALLOW_PRIVATE_HOOK_HOSTS": "1",
    }, tmp_path)
    yield server
    stop_server(server)


@pytest.fixture
def forge_api():
    """Start a stand-in for a forge's commit status API on loopback: `forge_api(answers=())` returns
    a FakeForge; all are stopped afterwards."""
    made = []

    def start(answers=()):
        made.append(FakeForge(answers))
        return made[-1]

    yield start
    for fake in made:
        fake.close()


@pytest.fixture
def github(forge_api):
    """Start a stand-in for GitHub's status API on loopback: `github(failures=0)` returns a
    FakeForge, its `url` for STOKER_GITHUB_API_URL, that fails its first `failures` calls."""
    return lambda failures=0: forge_api([(500, {})] * failures)


@pytest.fixture
def live_database(database_url):
    """This process's models bound to the database the live servers use: `with live_database():`
    reads (or changes) what they wrote."""
    db.initialize(open_database(database_url))
    yield db.connection_context
    if not db.is_closed():
        db.close()


@pytest.fixture
def listeners():
    """Connect real Socket.IO clients that collect buildStatusUpdate; all closed afterwards."""
    made = []

    def listen(server, token):
        made.append(Listener(server, token))
        return made[-1]

    yield listen
    for listener in made:
        listener.close()


@pytest.fixture
def watched_build(live_server, listeners, local_repo):
    """Alice, listening on the live server, builds `command` in a new project; returns
    (token, her events, the build's id) once the build has reached `until`."""
    from app.records.models import Status

    def start(command, until=Status.RUNNING, name="demo", **fields):
        token = login(live_server, "alice")
        events = listeners(live_server, token)
        build_id = create_project(live_server, token, local_repo, command, name=name, **fields)["build"]["id"]
        events.statuses_of(build_id, until=until)
        return token, events, build_id

    return start


# --- a real browser ----------------------------------------------------------

@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium, driven by Playwright (whose own browser download cannot work here)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("Playwright is not installed (pip install -e '.[test]')")
    if not CHROMIUM.exists():
        unavailable(f"no Chromium at {CHROMIUM} (apt-get install chromium chromium-driver)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def open_page(browser, request):
    """Open a tab of its own (its own storage, as another person's browser would be) on a
    running server. Each tab is screenshotted at the end; a script error in it, or a
    request to anywhere but the server, fails the test."""
    opened = []

    def open_(server, path="/", width=1280, height=900):
        context = browser.new_context(viewport={"width": width, "height": height}, base_url=server.url)
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.problems = []
        page.on("pageerror", lambda error: page.problems.append(f"script error: {error}"))
        page.on("request", lambda r: r.url.startswith((server.url, "data:"))
                or page.problems.append(f"request outside the server: {r.url}"))
        page.goto(path)
        opened.append(page)
        return page

    yield open_
    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in request.node.name)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    problems = []
    for number, page in enumerate(opened, 1):
        page.screenshot(path=SCREENSHOTS / f"{name}-{number}.png", full_page=True)
        problems += page.problems
        # Data the page failed to draw shows up as these words.
        problems += re.findall(r"\b(?:null|undefined|NaN)\b|\[object \w+\]", page.inner_text("main"))
        page.context.close()
    assert not problems


@pytest.fixture(scope="session", autouse=True)
def _unmount_data_dirs(tmp_path_factory):
    """The last Stoker process using a data dir takes its nosuid mount away (see app/datadir.py), but
    one killed outright cannot: the tests' data dirs are unmounted once the session ends."""
    yield
    base = str(tmp_path_factory.getbasetemp())
    points = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]
    for point in reversed(points):
        if point.startswith(base + "/"):
            subprocess.run(["umount", "-l", point], capture_output=True)


@pytest.fixture
def build_with(client, accounts, local_repo, drain):
    """Commit a .stoker.yml (or a link in its place), build that commit, and return the build and its log."""

    def make(plan=None, link_to=None, **project_fields):
        if link_to:
            os.symlink(link_to, local_repo.path / ".stoker.yml")
            local_repo.repo.git.add(".stoker.yml")
            local_repo.commit({}, message="Link the plan")
        else:
            local_repo.commit({".stoker.yml": plan}, message="Add a plan")
        headers = accounts.headers()
        created = create_project(client, accounts.token(), local_repo, "echo project command", name="steps",
                                 **project_fields)
        drain()
        build_id = created["build"]["id"]
        build = client.get(f"/api/build/{build_id}", headers=headers).get_json()["build"]
        log = client.get(f"/api/build/{build_id}/logs", headers=headers).get_data(as_text=True)
        return build, log

    return make
