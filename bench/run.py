"""Every Stoker benchmark, side by side in one run: prints a table of medians, p90 and p99 with
the number of runs, and writes the same to bench/results/latest.json. Not a test.

    python bench/run.py            # all of them (a few minutes; loopback only, bounded)
    python bench/run.py --only push_to_running,memory

Each benchmark starts its own `stoker serve` (SQLite unless --database-url) on a free
loopback port with a fresh data dir, and the busybox build image (`stoker make-image`), with
the tests' own helpers (tests/support): servers, ports, signed pushes and event listeners.
"""
import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import git
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.app_build import app_build  # noqa: E402
from bench.checkout import large_checkout  # noqa: E402
from pipeline.git.checkout import Clone, Head, check_out  # noqa: E402
from pipeline.git.mirror import GitMirror  # noqa: E402
from tests.support import Listener, delivery, login, push_payload, start_agent, start_server, stop_agent, stop_server  # noqa: E402

IMAGE = "stoker-busybox:latest"


# --- figures -----------------------------------------------------------------

def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def summary(values, unit="ms"):
    return {"runs": len(values), "median": statistics.median(values), "p90": percentile(values, 0.9),
            "p99": percentile(values, 0.99), "unit": unit}


def timed(function, *args, **kwargs):
    started = time.perf_counter()
    function(*args, **kwargs)
    return (time.perf_counter() - started) * 1000


# --- a running Stoker --------------------------------------------------------

class Arrivals(Listener):
    """The tests' Socket.IO listener, noting when each status of each build arrived."""

    def __init__(self, server, token):
        self.arrivals, self.changed = {}, threading.Condition()
        super().__init__(server, token)

    def _heard(self, payload):
        with self.changed:
            self.arrivals[(payload["id"], payload["status"])] = (time.perf_counter(), time.time(), payload)
            self.changed.notify_all()
        super()._heard(payload)

    def wait_for(self, build_id, status, timeout=60):
        """(perf_counter, wall time, payload) of the build's `status` event, once it has arrived."""
        with self.changed:
            if not self.changed.wait_for(lambda: (build_id, status) in self.arrivals, timeout):
                raise TimeoutError(f"build {build_id} never reached {status}")
            return self.arrivals[(build_id, status)]


class Stoker:
    """`stoker <command>` on loopback (started as the tests start it), with an account and a project
    on a local repository."""

    def __init__(self, work, command="serve", workers=1, database_url=None, **env):
        name = uuid.uuid4().hex[:8]
        self.data_dir = work / f"data-{name}"
        environment = {"STOKER_DATA_DIR": str(self.data_dir), "STOKER_WORKER_CONCURRENCY": str(workers), **env}
        if database_url:
            environment["DATABASE_URL"] = fresh_database(database_url, f"stoker_bench_{name}")
        self.database_url = environment.get("DATABASE_URL")
        self.server = start_server(command, environment, work, wait_for_http=command == "serve")
        self.url, self.process, self.log_path = self.server.url, self.server.process, self.server.log_path
        self.session = requests.Session()
        self.events = None

    def sign_in(self, username="bench"):
        token = login(self.server, username)
        self.headers = {"Authorization": f"Bearer {token}"}
        self.events = Arrivals(self.server, token)
        return token

    def wait_for(self, build_id, status, timeout=60):
        return self.events.wait_for(build_id, status, timeout)

    def create_project(self, repo_path, command="true"):
        made = self.session.post(self.url + "/api/project/projects", headers=self.headers, json={
            "name": "bench", "repoUrl": str(repo_path), "buildCommand": command}).json()
        self.project_id, self.secret = made["project"]["id"], made["project"]["webhookSecret"]
        self.wait_for(made["build"]["id"], "passed")
        return made

    def push(self, commit):
        body, headers = delivery(self.secret, push_payload(commit, message="bench", author="Bench"))
        sent = time.perf_counter()
        response = self.session.post(f"{self.url}/api/webhooks/github/{self.project_id}", data=body, headers=headers,
                                     timeout=10)
        return sent, (time.perf_counter() - sent) * 1000, response

    def rss_mb(self):
        return rss_mb(Path(f"/proc/{self.process.pid}/status").read_text())

    def stop(self):
        if self.events is not None and self.events.client.connected:
            self.events.close()
        stop_server(self.server)


def rss_mb(proc_status, field="VmRSS:"):
    """VmRSS (or another of its memory figures, VmHWM: the peak), in MB, from a /proc/PID/status."""
    for line in proc_status.splitlines():
        if line.startswith(field):
            return int(line.split()[1]) / 1024
    return None


def fresh_database(server_url, name):
    """An empty database on the PostgreSQL server of `server_url`, so each Stoker starts clean."""
    import psycopg2

    admin = psycopg2.connect(server_url)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        cursor.execute(f"CREATE DATABASE {name}")
    admin.close()
    return server_url.rsplit("/", 1)[0] + "/" + name


def small_repo(work):
    repo = git.Repo.init(work / "repo", initial_branch="main")
    (work / "repo" / "ci.sh").write_text("true\n")
    repo.index.add(["ci.sh"])
    return repo, repo.index.commit("bench").hexsha


def commits_to_push(work, pushes):
    """A small repository at work/repo with `pushes` commits, one to push each, oldest first."""
    repo, _ = small_repo(work)
    commits = []
    for n in range(pushes):
        (work / "repo" / "n.txt").write_text(f"{n}\n")
        repo.index.add(["n.txt"])
        commits.append(repo.index.commit(f"push {n}").hexsha)
    return commits


def pushed_evenly(stoker, commits, seconds):
    """Push each of `commits` to `stoker`, spread evenly over `seconds`, 16 at a time at most; the
    answers, in order."""
    begun = time.perf_counter()
    with ThreadPoolExecutor(max_workers=16) as pool:
        futures = []
        for n, commit in enumerate(commits):
            time.sleep(max(0.0, begun + n * seconds / len(commits) - time.perf_counter()))
            futures.append(pool.submit(stoker.push, commit))
        return [future.result() for future in futures]


@contextmanager
def stoker_with_project(work, args, workers=1):
    """A running Stoker with an account and a project on work/repo whose first build has passed."""
    stoker = Stoker(work, workers=workers, database_url=args.database_url)
    try:
        stoker.sign_in()
        stoker.first_build = stoker.create_project(work / "repo")["build"]["id"]
        yield stoker
    finally:
        stoker.stop()


def bare_docker_run():
    return timed(subprocess.run, ["docker", "run", "--rm", "--network", "none", IMAGE, "true"])


def bare_docker_runs_at_once(runs, at_once):
    """Wall time of `runs` bare docker runs, `at_once` at a time: what the engine itself allows."""
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=at_once) as pool:
        list(pool.map(lambda _: bare_docker_run(), range(runs)))
    return (time.perf_counter() - started) * 1000


# --- the benchmarks ------------------------------------------------------------

def push_to_running(work, args, runs=30):
    """1 and 2: webhook sent -> `running` received (idle worker); status saved -> event received."""
    _, commit = small_repo(work)
    with stoker_with_project(work, args) as stoker:
        to_running, save_to_event = [], []
        for _ in range(runs):
            sent, _, response = stoker.push(commit)
            build_id = response.json()["build"]["id"]
            received, wall, build = stoker.wait_for(build_id, "running")
            to_running.append((received - sent) * 1000)
            saved = datetime.strptime(build["runStartedAt"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
            save_to_event.append((wall - saved.timestamp()) * 1000)
            stoker.wait_for(build_id, "passed")
    return {"push_to_running": summary(to_running), "event_latency": summary(save_to_event)}


@contextmanager
def stoker_with_agents(work, args, agents=1, each=1):
    """A running Stoker with no workers of its own, `agents` agents of `each` builds at a time on
    loopback, and an account and a project on work/repo whose first build has passed."""
    stoker = Stoker(work, workers=0, database_url=args.database_url)
    processes = []
    try:
        stoker.sign_in()
        for n in range(agents):
            made = stoker.session.post(stoker.url + "/api/admin/agents", headers=stoker.headers,
                                       json={"name": f"bench-{n}"}).json()
            processes.append(start_agent(stoker.server, made["token"], work, name=f"agent-{n}",
                                         STOKER_WORKER_CONCURRENCY=str(each)))
        stoker.first_build = stoker.create_project(work / "repo")["build"]["id"]
        yield stoker
    finally:
        for process in processes:
            stop_agent(process)
        stoker.stop()


def agent_push_to_running(work, args, runs=30):
    """Webhook sent -> `running` received through an agent, beside the same through a worker,
    pushed in turn to the two: what holding no keys costs in latency."""
    _, commit = small_repo(work)
    with stoker_with_project(work, args) as worker, stoker_with_agents(work, args) as agent:
        figures = {"worker": [], "agent": []}
        for _ in range(runs):
            for name, stoker in (("worker", worker), ("agent", agent)):
                sent, _, response = stoker.push(commit)
                build_id = response.json()["build"]["id"]
                received, _, _ = stoker.wait_for(build_id, "running")
                figures[name].append((received - sent) * 1000)
                stoker.wait_for(build_id, "passed")
    return {"agent_push_to_running": {"worker": summary(figures["worker"]), "agent": summary(figures["agent"]),
                                      "agent_median_over_worker": statistics.median(figures["agent"])
                                      / statistics.median(figures["worker"])}}


def agent_burst(work, args, pushes=60, seconds=5):
    """60 signed pushes in 5 s through one agent and through two (two builds at a time each): time
    to all finished, lost, duplicated."""
    results = {}
    for agents in (1, 2):
        here = work / f"agents-{agents}"
        here.mkdir()
        commits = commits_to_push(here, pushes)
        with stoker_with_agents(here, args, agents=agents, each=2) as stoker:
            begun = time.perf_counter()
            ids = [response.json()["build"]["id"] for _, _, response in pushed_evenly(stoker, commits, seconds)]
            for build_id in ids:
                stoker.wait_for(build_id, "passed", timeout=600)
            finished = (time.perf_counter() - begun) * 1000
            listed = stoker.session.get(f"{stoker.url}/api/project/projects/1/builds?limit=100",
                                        headers=stoker.headers).json()["builds"]
            built = [build["commitHash"] for build in listed if build["id"] != stoker.first_build]
            results[f"agents_{agents}"] = {"all_finished_ms": finished,
                                           "lost": sum(1 for c in commits if c not in built),
                                           "duplicated": len(built) - len(set(built))}
    results["two_over_one"] = results["agents_2"]["all_finished_ms"] / results["agents_1"]["all_finished_ms"]
    return {"agent_burst": results}


def build_overhead(work, args, runs=15):
    """3: a trivial build end to end against a bare `docker run` of the same image, interleaved: of
    the same commit again (the mirror has it) and of a new commit each time (the mirror fetches)."""
    repo, commit = small_repo(work)
    with stoker_with_project(work, args) as stoker:
        same, new, bare = [], [], []
        for run in range(runs):
            for times, pushed in ((same, commit), (new, None)):
                if pushed is None:
                    (work / "repo" / "run").write_text(f"{run}\n")
                    repo.index.add(["run"])
                    pushed = repo.index.commit(f"bench {run}").hexsha
                sent, _, response = stoker.push(pushed)
                finished, _, _ = stoker.wait_for(response.json()["build"]["id"], "passed")
                times.append((finished - sent) * 1000)
            bare.append(bare_docker_run())
    return {"trivial_build": summary(same), "trivial_build_new_commit": summary(new),
            "bare_docker_run": summary(bare),
            "build_minus_bare": summary([w - b for w, b in zip(same, bare)]),
            "new_commit_build_minus_bare": summary([w - b for w, b in zip(new, bare)])}


def checkout(work, args, files=2000, commits=200, runs=7):
    """4: checkout of one commit from the warm mirror (a git repository, as a build's workspace is),
    against `tar -x` of the same tree and a fresh clone."""
    source = work / "big"
    repo = git.Repo.init(source, initial_branch="main")
    for n in range(files):
        path = source / f"dir{n % 40}" / f"file{n}.txt"
        path.parent.mkdir(exist_ok=True)
        path.write_text(f"file {n}\n" * 20)
    repo.git.add(A=True)
    repo.index.commit("tree")
    for n in range(commits - 1):
        (source / f"dir{n % 40}" / f"file{n}.txt").write_text(f"changed {n}\n" * 20)
        repo.git.commit("-qam", f"change {n}")
    head = repo.head.commit.hexsha
    mirror = GitMirror(work / "mirrors", str(source), allow_local=True, timeout=120)
    mirror.fetch(head)
    tarball = work / "tree.tar"
    subprocess.run(["git", "-C", str(source), "archive", "--format=tar", "-o", str(tarball), head], check=True)

    def fresh():
        target = Path(tempfile.mkdtemp(dir=work))
        return target

    export, untar, clone = [], [], []
    for _ in range(runs):
        export.append(timed(check_out, mirror, Head(head, "main"), fresh(), Clone(), None))
        untar.append(timed(subprocess.run, ["tar", "-x", "-f", str(tarball), "-C", str(fresh())]))
        target = fresh() / "clone"
        clone.append(timed(subprocess.run, ["git", "clone", "-q", "--no-local", str(source), str(target)]))

    objects = mirror.path / "objects"
    before = sum(f.stat().st_size for f in objects.rglob("*") if f.is_file())
    (source / "dir0" / "file0.txt").write_text("one more change\n")
    repo.git.commit("-qam", "one more")
    new = repo.head.commit.hexsha
    mirror.fetch(new)
    after = sum(f.stat().st_size for f in objects.rglob("*") if f.is_file())
    pack = sum(f.stat().st_size for f in (source / ".git" / "objects").rglob("*") if f.is_file())
    return {"checkout_from_mirror": summary(export), "checkout_tar_floor": summary(untar),
            "checkout_fresh_clone": summary(clone),
            "checkout_from_mirror_over_tar": statistics.median(export) / statistics.median(untar),
            "checkout_clone_over_from_mirror": statistics.median(clone) / statistics.median(export),
            "fetch_one_commit_bytes": after - before, "repository_object_bytes": pack}


def read_every_50_ms(read, into, stop):
    while not stop.is_set():
        into.append(read())
        time.sleep(0.05)


def burst(work, args, pushes=200, seconds=10):
    """5: 200 signed pushes in 10 s with 1, 2 and 4 workers: acks, time to all finished, lost, duplicated,
    and the builds list read every 50 ms meanwhile, against the same read while idle."""
    commits = commits_to_push(work, pushes)
    bare = statistics.median(bare_docker_run() for _ in range(5))
    results = {"bare_docker_run_ms": bare}
    for workers in args.workers:
        with stoker_with_project(work, args, workers=workers) as stoker:
            first = stoker.first_build  # of the branch head, not pushed
            reads, stop_reading = [], threading.Event()
            reader_session = requests.Session()

            def read_builds():
                return timed(reader_session.get, f"{stoker.url}/api/project/projects/1/builds?limit=5",
                             headers=stoker.headers)

            # The same read, first while Stoker is idle, then all through the burst.
            idle_reads = []
            for _ in range(60):
                idle_reads.append(read_builds())
                time.sleep(0.05)

            reader = threading.Thread(target=read_every_50_ms, args=(read_builds, reads, stop_reading))
            reader.start()
            begun = time.perf_counter()
            answers = pushed_evenly(stoker, commits, seconds)
            ids = [response.json()["build"]["id"] for _, _, response in answers]
            for build_id in ids:
                stoker.wait_for(build_id, "passed", timeout=600)
            finished = (time.perf_counter() - begun) * 1000
            stop_reading.set()
            reader.join()
            built = {}
            offset = 0
            while True:
                page = stoker.session.get(f"{stoker.url}/api/project/projects/1/builds?limit=100&offset={offset}",
                                          headers=stoker.headers).json()
                for build in page["builds"]:
                    if build["id"] != first:
                        built.setdefault(build["commitHash"], []).append(build["id"])
                offset += 100
                if offset >= page["total"]:
                    break
            # The engine's own pace with this many containers at once, scaled to the burst: on a
            # small machine it is slower than bare / workers, and no scheduler can beat it.
            # The same reads meanwhile: what the engine's load alone does to them on this machine.
            engine_reads, stop_reading = [], threading.Event()
            reader = threading.Thread(target=read_every_50_ms, args=(read_builds, engine_reads, stop_reading))
            reader.start()
            engine = bare_docker_runs_at_once(pushes // 5, workers) * 5
            stop_reading.set()
            reader.join()
            results[f"workers_{workers}"] = {
                "ack": summary([ms for _, ms, _ in answers]),
                "all_finished_ms": finished,
                "floor_ms": pushes * bare / workers,
                "finished_over_floor": finished / (pushes * bare / workers),
                "engine_at_once_ms": engine,
                "finished_over_engine_at_once": finished / engine,
                "lost": sum(1 for c in commits if c not in built),
                "duplicated": sum(len(built.get(c, [])) - 1 for c in commits if len(built.get(c, [])) > 1),
                "builds_list_idle": summary(idle_reads),
                "builds_list_under_burst": summary(reads),
                "read_median_over_idle": statistics.median(reads) / statistics.median(idle_reads),
                "builds_list_under_bare_engine": summary(engine_reads),
                "bare_engine_read_median_over_idle": statistics.median(engine_reads) / statistics.median(idle_reads),
                "slowest_read_ms": max(reads),
            }
    return {"burst": results}


def api_reads(work, args, threads=8, seconds=5):
    """6: GET /api/build/:id with a token, 8 clients at once for 5 s."""
    small_repo(work)
    stoker = Stoker(work, workers=0, database_url=args.database_url)
    try:
        token = stoker.sign_in()
        made = stoker.session.post(stoker.url + "/api/project/projects", headers=stoker.headers, json={
            "name": "bench", "repoUrl": str(work / "repo"), "buildCommand": "true"}).json()
        url = f"{stoker.url}/api/build/{made['build']['id']}"
        deadline = time.perf_counter() + seconds

        def client():
            session, times = requests.Session(), []
            while time.perf_counter() < deadline:
                times.append(timed(session.get, url, headers={"Authorization": f"Bearer {token}"}))
            return times

        with ThreadPoolExecutor(max_workers=threads) as pool:
            times = [t for result in pool.map(lambda _: client(), range(threads)) for t in result]
    finally:
        stoker.stop()
    return {"api_get_build": {**summary(times), "requests_per_second": len(times) / seconds}}


def memory(work, args):
    """7: resident memory of an idle `stoker serve` (no workers) and an idle `stoker worker`, of
    the one-machine default (one `stoker serve` with its embedded workers), and of a bare Python
    that only imports the stack both are made of."""
    server = Stoker(work, workers=0, database_url=args.database_url)
    worker = Stoker(work, command="worker", workers=2, database_url=args.database_url)
    both = Stoker(work, workers=2, database_url=args.database_url)
    try:
        time.sleep(3)
        figures = {"server_rss_mb": server.rss_mb(), "worker_rss_mb": worker.rss_mb(),
                   "serve_with_workers_rss_mb": both.rss_mb()}
        # Then the one-process default's peak through a first day: an account made, signed in, a
        # project created and built (VmHWM: the most it was ever resident, not only now).
        both.sign_in()
        small_repo(work)
        both.create_project(work / "repo")
        figures["serve_with_workers_after_first_build_rss_mb"] = both.rss_mb()
        figures["serve_with_workers_peak_hwm_mb"] = rss_mb(Path(f"/proc/{both.process.pid}/status").read_text(),
                                                           "VmHWM:")
        figures["server_peak_hwm_mb"] = rss_mb(Path(f"/proc/{server.process.pid}/status").read_text(), "VmHWM:")
    finally:
        for stoker in (server, worker, both):
            stoker.stop()
    figures["together_mb"] = figures["server_rss_mb"] + figures["worker_rss_mb"]
    # What the chosen stack costs before Stoker runs a line: the floor under each process.
    floor = subprocess.run([sys.executable, "-W", "ignore", "-c", STACK_ONLY], capture_output=True, text=True,
                           check=True)
    figures["stack_imports_only_rss_mb"] = rss_mb(floor.stdout)
    return figures


def project_list(work, args, small=100, large=100_000, runs=15):
    """8: GET /api/project/projects (the dashboard's first call) for an account whose project has
    100 builds and one whose project has 100,000, interleaved, with the answer's size."""
    from app.records.db import open_database
    from app.records.models import Build, Project, User, db

    small_repo(work)
    stoker = Stoker(work, workers=0, database_url=args.database_url)
    try:
        accounts = {}
        for name, builds in (("few", small), ("many", large)):
            stoker.sign_in(name)
            stoker.session.post(stoker.url + "/api/project/projects", headers=stoker.headers, json={
                "name": name, "repoUrl": str(work / "repo"), "buildCommand": "true"})
            accounts[name] = (stoker.headers, builds)
            stoker.events.close()
        url = stoker.database_url or f"sqlite:///{stoker.data_dir / 'stoker.db'}"
        db.initialize(open_database(url))
        with db.connection_context():
            for name, (_, builds) in accounts.items():
                project = Project.select().join(User).where(User.username == name).get()
                rows = [{"project": project.id, "commit_hash": "b" * 40, "branch": "main", "status": "passed"}
                        for _ in range(builds - 1)]
                for start in range(0, len(rows), 5000):
                    with db.atomic():
                        Build.insert_many(rows[start:start + 5000]).execute()
        times, sizes = {name: [] for name in accounts}, {}
        for _ in range(runs):
            for name, (headers, _) in accounts.items():
                started = time.perf_counter()
                answer = stoker.session.get(stoker.url + "/api/project/projects", headers=headers, timeout=60)
                times[name].append((time.perf_counter() - started) * 1000)
                sizes[name] = len(answer.content)
    finally:
        stoker.stop()
    few, many = statistics.median(times["few"]), statistics.median(times["many"])
    return {"project_list": {f"builds_{small}": summary(times["few"]), f"builds_{large}": summary(times["many"]),
                             f"answer_bytes_{small}": sizes["few"], f"answer_bytes_{large}": sizes["many"],
                             "median_ratio": many / few}}


TWO_STEPS = """\
steps:
  - name: one
    {depends}commands: sleep 2
  - name: two
    {depends}commands: sleep 2
"""


def parallel_steps(work, args, runs=5):
    """5: two independent 2 s steps side by side (depends_on: []) against the same two in sequence,
    push to `passed`, interleaved."""
    repo, _ = small_repo(work)
    with stoker_with_project(work, args) as stoker:
        times = {"side_by_side": [], "in_sequence": []}
        for run in range(runs):
            for kind, depends in (("side_by_side", "depends_on: []\n    "), ("in_sequence", "")):
                (work / "repo" / ".stoker.yml").write_text(TWO_STEPS.format(depends=depends))
                (work / "repo" / "run").write_text(f"{kind} {run}\n")
                repo.index.add([".stoker.yml", "run"])
                commit = repo.index.commit(f"{kind} {run}").hexsha
                sent, _, response = stoker.push(commit)
                finished, _, _ = stoker.wait_for(response.json()["build"]["id"], "passed")
                times[kind].append((finished - sent) * 1000)
    ratio = statistics.median(times["in_sequence"]) / statistics.median(times["side_by_side"])
    return {"two_2s_steps": {kind: summary(values) for kind, values in times.items()},
            "two_2s_steps_sequence_over_parallel": ratio}


STACK_ONLY = """
import eventlet
eventlet.monkey_patch()
import docker, flask, flask_jwt_extended, git, peewee, playhouse.pool, psycopg2, redis, socketio
print(open("/proc/self/status").read())
"""


BENCHMARKS = {"push_to_running": push_to_running, "build_overhead": build_overhead, "checkout": checkout,
              "burst": burst, "api_reads": api_reads, "memory": memory, "project_list": project_list,
              "parallel_steps": parallel_steps, "large_checkout": large_checkout,
              "agent_push_to_running": agent_push_to_running, "agent_burst": agent_burst, "app_build": app_build}


def rows(results, prefix=""):
    for name, value in results.items():
        if isinstance(value, dict) and "median" in value:
            yield (prefix + name, value["runs"], f"{value['median']:.1f}", f"{value['p90']:.1f}",
                   f"{value['p99']:.1f}", value["unit"])
        elif isinstance(value, dict):
            yield from rows(value, prefix + name + ".")
        else:
            yield (prefix + name, "", f"{value:.3g}" if isinstance(value, float) else str(value), "", "", "")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(BENCHMARKS))
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--workers", default="1,2,4", help="the burst's worker counts")
    args = parser.parse_args()
    unknown = set(args.only.split(",")) - set(BENCHMARKS)
    if unknown:
        parser.error(f"no benchmark {', '.join(sorted(unknown))}; there are {', '.join(BENCHMARKS)}")
    args.workers = [int(n) for n in args.workers.split(",")]
    results = {"when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
               "database": (args.database_url or "sqlite").split(":")[0]}
    for name in args.only.split(","):
        work = Path(tempfile.mkdtemp(prefix=f"stoker-bench-{name}-"))
        print(f"running {name} ...", file=sys.stderr, flush=True)
        results.update(BENCHMARKS[name](work, args))
        shutil.rmtree(work, ignore_errors=True)  # kept, with the servers' logs, when it failed
    table = [("figure", "runs", "median", "p90", "p99", "unit"), *rows(results)]
    widths = [max(len(str(row[i])) for row in table) for i in range(6)]
    for row in table:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)))
    out = ROOT / "bench" / "results" / "latest.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwritten to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
