"""The code's shape: dependencies point one way, from the records side to the execution side, the
rooms of app/ import only the rooms below them, and eventlet is one module's business."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def imported_modules(path, root=ROOT):
    """Every module `path` imports, relative imports resolved against its package under `root`."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = list(path.relative_to(root).parent.parts) if path.is_relative_to(root) else []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            yield node.module
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - (node.level - 1)]
            if node.module:
                yield ".".join([*base, node.module])
            else:
                yield from (".".join([*base, alias.name]) for alias in node.names)


def test_nothing_under_pipeline_imports_app():
    checked, offenders = 0, []
    for path in sorted((ROOT / "pipeline").rglob("*.py")):
        checked += 1
        offenders += [f"{path.relative_to(ROOT)} imports {name}" for name in imported_modules(path)
                      if name == "app" or name.startswith("app.")]
    assert checked > 10 and offenders == []


def test_the_check_sees_an_import_of_app(tmp_path):
    sample = tmp_path / "app" / "worker" / "sample.py"
    sample.parent.mkdir(parents=True)
    sample.write_text("import os\nfrom app.models import Build\nfrom ..jobs import BUILD\nfrom . import loop\n"
                      "def f():\n    import app.lifecycle\n")
    assert list(imported_modules(sample, root=tmp_path)) == ["os", "app.models", "app.jobs", "app.worker.loop",
                                                             "app.lifecycle"]


def test_eventlet_is_imported_by_the_runtime_module_alone():
    sources = [ROOT / "stoker.py", *sorted((ROOT / "app").rglob("*.py")), *sorted((ROOT / "pipeline").rglob("*.py"))]
    importers = [str(path.relative_to(ROOT)) for path in sources
                 if any(name == "eventlet" or name.startswith("eventlet.") for name in imported_modules(path))]
    assert importers == ["app/runtime.py"]


# The rooms of app/ (see the README's Layout) and what each may import of app/: the rooms below it.
# The process (app/__init__.py, factory.py, cli.py) puts them together and may import any.
BASE = ("app.config", "app.runtime", "app.datadir", "app.gate", "app.services", "app.runners")
MAY_IMPORT = {
    **{room: () for room in BASE},
    # What a host runs builds with, made to the process's own way of waiting.
    "app.runners": ("app.runtime",),
    "app.records": ("app.records", *BASE),
    "app.live": ("app.live", "app.records", *BASE),
    "app.forges": ("app.forges", "app.records", *BASE),
    "app.signin": BASE,
    # A build agent holds no key: it reaches the records through the agent API alone.
    "app.agent": BASE,
    # The command-line client: the API over HTTP, and nothing of the server's.
    "app.client": (),
    "app.background": ("app.background", "app.forges", "app.records", *BASE),
    "app.api": ("app.api", "app.background", "app.live", "app.forges", "app.signin", "app.records", *BASE),
    "app.worker": ("app.worker", "app.background", "app.live", "app.forges", "app.records", *BASE),
}
PROCESS = ("app", "app.factory", "app.cli")


def module_name(path):
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def room_of(module):
    return next((room for room in MAY_IMPORT if module == room or module.startswith(room + ".")), None)


def test_each_room_of_app_imports_only_the_rooms_below_it():
    offenders, rooms = [], set()
    for path in sorted((ROOT / "app").rglob("*.py")):
        module = module_name(path)
        if module in PROCESS:
            continue
        room = room_of(module)
        assert room is not None, f"{module} is in no room of MAY_IMPORT"
        rooms.add(room)
        offenders += [f"{module} imports {name}" for name in imported_modules(path)
                      if name.startswith("app.") and room_of(name) not in MAY_IMPORT[room]]
    assert rooms == set(MAY_IMPORT) and offenders == []


def test_no_blueprint_imports_another():
    blueprints = {module_name(path) for path in (ROOT / "app" / "api").glob("*.py")
                  if "Blueprint(" in path.read_text()}
    offenders = [f"{module_name(path)} imports {name}" for path in (ROOT / "app" / "api").glob("*.py")
                 if module_name(path) in blueprints
                 for name in imported_modules(path) if name in blueprints and name != module_name(path)]
    assert len(blueprints) > 10 and offenders == []


def test_the_web_side_does_not_load_what_runs_builds_until_a_worker_asks():
    """The kinds of job are records; what runs them is the worker's (app/worker/kinds.py)."""
    jobs = ROOT / "app" / "records" / "jobs.py"
    assert not [name for name in imported_modules(jobs) if name.startswith(("app.worker", "pipeline"))]


def test_every_kind_of_job_has_one_executor():
    from app.records.jobs import KINDS
    from app.worker.kinds import EXECUTORS

    assert [executor.kind for executor in EXECUTORS] == list(KINDS)
    assert all(callable(executor.make_tool) and callable(executor.run) for executor in EXECUTORS)


def test_every_folder_of_code_is_a_package_that_an_install_carries():
    """setup.cfg finds packages by their __init__.py; a folder without one is left out of a wheel."""
    folders = {path.parent for top in ("app", "pipeline") for path in (ROOT / top).rglob("*.py")}
    assert sorted(str(f.relative_to(ROOT)) for f in folders if not (f / "__init__.py").exists()) == []


WEB_PROCESS = """
import sys
from app import runtime
runtime.patch()
from app import cli, create_app
app = create_app({"DATABASE_URL": "sqlite:///%(data)s/stoker.db", "STOKER_DATA_DIR": "%(data)s",
                  "STOKER_ALLOW_LOCAL_REPOS": True, "STOKER_REGISTRATION": "open"}, serve_clients=True)
client = app.test_client()
client.post("/api/auth/register", json={"username": "web", "password": "password123"})
token = client.post("/api/auth/login", json={"username": "web", "password": "password123"}).get_json()["accessToken"]
made = client.post("/api/project/projects", json={"name": "p", "repoUrl": "%(repo)s", "buildCommand": "true"},
                   headers={"Authorization": "Bearer " + token})
assert made.status_code == 201, made.get_json()
print(sorted(name for name in ("docker", "git", "prometheus_client") if name in sys.modules))
"""


def test_a_web_process_loads_neither_the_docker_sdk_nor_gitpython(tmp_path, local_repo):
    """A web process without workers checks remotes with git itself and never touches an engine:
    what runs builds stays out of its memory (about 12 MB of it, measured); so does
    prometheus_client while nobody scrapes metrics."""
    import subprocess
    import sys

    script = WEB_PROCESS % {"data": tmp_path / "data", "repo": local_repo.url}
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


# The backend seam (pipeline/backend/__init__.py): the runner and the rest of pipeline/ speak to the
# Backend interface alone, and the Docker implementation is named by one chooser, `backend.named`.
DOCKER_BACKEND = "pipeline.backend.docker"
CHOOSER = Path("pipeline/backend/__init__.py")


def seam_offenders(root=ROOT):
    """Who names Docker across the seam: a module of pipeline/ outside pipeline/backend/ importing
    the docker SDK or the Docker backend, or any module of Stoker but the chooser (and the backend
    itself) importing or making the Docker backend."""
    offenders = []
    sources = [root / "stoker.py", *sorted((root / "app").rglob("*.py")), *sorted((root / "pipeline").rglob("*.py"))]
    for path in (path for path in sources if path.exists()):
        where = path.relative_to(root)
        if where == CHOOSER or where.is_relative_to("pipeline/backend/docker"):
            continue
        tree = ast.parse(path.read_text())
        # `from pipeline.backend import docker` imports pipeline.backend.docker too.
        names = [*imported_modules(path, root), *(f"{node.module}.{alias.name}" for node in ast.walk(tree)
                                                  if isinstance(node, ast.ImportFrom) and node.level == 0
                                                  for alias in node.names)]
        offenders += [f"{where} imports {name}" for name in names
                      if name == DOCKER_BACKEND or name.startswith(DOCKER_BACKEND + ".")]
        if where.is_relative_to("pipeline") and not where.is_relative_to("pipeline/backend"):
            offenders += [f"{where} imports {name}" for name in names if name == "docker" or name.startswith("docker.")]
        offenders += [f"{where} makes {made}" for node in ast.walk(tree) if isinstance(node, ast.Call)
                      for made in [getattr(node.func, "id", None) or getattr(node.func, "attr", None)]
                      if made in ("DockerBackend", "DockerEngine")]
    return offenders


def test_the_runner_knows_the_backend_interface_alone_and_one_chooser_names_docker():
    assert (ROOT / "pipeline" / "runner.py").exists() and (ROOT / CHOOSER).exists()
    assert seam_offenders() == []


def test_the_seam_check_sees_docker_named_across_it(tmp_path):
    for name, text in {
        "pipeline/runner.py": "from .backend.docker.engine import DockerEngine\n",
        "pipeline/pulls.py": "import docker\n",
        # The chooser, and the backend itself, may.
        "pipeline/backend/__init__.py": "def _docker():\n    from .docker import DockerBackend\n"
                                        "    return DockerBackend()\n",
        "pipeline/backend/docker/__init__.py": "import docker\n",
        "app/worker/loop.py": "def f():\n    from pipeline.backend import docker\n    return docker.DockerBackend()\n",
    }.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert seam_offenders(tmp_path) == ["app/worker/loop.py imports pipeline.backend.docker",
                                        "app/worker/loop.py makes DockerBackend",
                                        "pipeline/pulls.py imports docker",
                                        "pipeline/runner.py imports pipeline.backend.docker.engine"]


def test_no_test_module_imports_another():
    """What tests share is in tests/support/ (or conftest.py): importing a test module runs its
    module-level code and collects its tests twice."""
    test_modules = sorted((ROOT / "tests").rglob("test_*.py"))
    offenders = []
    for path in test_modules:
        # `from tests.app import test_events` imports tests.app.test_events too.
        tree = ast.parse(path.read_text())
        names = [*imported_modules(path), *(f"{node.module}.{alias.name}" for node in ast.walk(tree)
                                            if isinstance(node, ast.ImportFrom) and node.module
                                            for alias in node.names)]
        offenders += [f"{path.relative_to(ROOT)} imports {name}" for name in names
                      if name.startswith("tests.") and any(part.startswith("test_") for part in name.split("."))]
    assert len(test_modules) > 50 and offenders == []
