"""/healthz and /readyz, against a server whose database, Redis and engine really go away and come back:
a PostgreSQL cluster and a Redis server of the test's own, stopped and started again; the engine
reached through a socket the test holds (stopping the machine's one engine would stop every other
test's containers)."""
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest
import requests

from tests.support import start_server, stop_server
from tests.support.servers import free_port
from tests.support.waiting import wait_until

PG_BIN = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"))), None)


def test_the_process_answers_and_says_it_is_ready_with_no_token(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.get_json() == {"status": "ready", "checks": {"database": "ok"}}


class OwnPostgres:
    """A PostgreSQL cluster in a folder of its own, on a port of its own: stopped and started at will."""

    def __init__(self):
        self.folder = Path(tempfile.mkdtemp(prefix="stoker-pg-"))
        shutil.chown(self.folder, "postgres")
        self.port = free_port()
        self._as_postgres([PG_BIN / "initdb", "-D", self.folder / "data", "-U", "postgres", "--auth=trust", "-N"])
        self.start()
        self._as_postgres([PG_BIN / "createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "stoker"])
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/stoker"

    def _as_postgres(self, command):
        subprocess.run(["runuser", "-u", "postgres", "--", *map(str, command)], check=True, capture_output=True,
                       cwd=self.folder)

    def start(self):
        self._as_postgres([PG_BIN / "pg_ctl", "-D", self.folder / "data", "-w", "-l", self.folder / "log", "start",
                           "-o", f"-p {self.port} -k {self.folder} -h 127.0.0.1 -F"])

    def stop(self):
        self._as_postgres([PG_BIN / "pg_ctl", "-D", self.folder / "data", "-w", "-m", "fast", "stop"])

    def remove(self):
        try:
            self.stop()
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.folder, ignore_errors=True)


class OwnRedis:
    def __init__(self):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.start()

    def start(self):
        self.process = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                                         "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL)
        wait_until(self._answers, timeout=10, what="redis-server to listen")

    def _answers(self):
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            return True
        except OSError:
            return False

    def stop(self):
        self.process.terminate()
        self.process.wait(10)


class EngineDoor:
    """A Unix socket that passes everything through to the Docker engine's own, while it is open."""

    def __init__(self, folder, engine="/var/run/docker.sock"):
        self.path, self.engine = str(folder / "engine.sock"), engine
        self.open()

    def open(self):
        self.listener = socket.socket(socket.AF_UNIX)
        self.listener.bind(self.path)
        self.listener.listen(16)
        self.pairs = []
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def _accept(self, listener):
        while True:
            try:
                near, _ = listener.accept()
            except OSError:
                return
            far = socket.socket(socket.AF_UNIX)
            far.connect(self.engine)
            self.pairs.append((near, far))
            for one, other in ((near, far), (far, near)):
                threading.Thread(target=self._pass, args=(one, other), daemon=True).start()

    @staticmethod
    def _pass(source, sink):
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self):
        self.listener.close()
        os.unlink(self.path)
        for near, far in self.pairs:
            for end in (near, far):
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


@pytest.mark.skipif(PG_BIN is None, reason="PostgreSQL's programs are not installed")
def test_readiness_names_the_part_that_went_away_and_recovers_when_it_is_back(tmp_path, docker_client):
    postgres, redis_server = OwnPostgres(), OwnRedis()
    door = EngineDoor(tmp_path)
    server = start_server("serve", {"DATABASE_URL": postgres.url, "REDIS_URL": redis_server.url,
                                    "DOCKER_HOST": f"unix://{door.path}", "STOKER_WORKER_CONCURRENCY": "1",
                                    "STOKER_DATA_DIR": str(tmp_path / "data")}, tmp_path)

    def ready():
        started = time.monotonic()
        answer = requests.get(f"{server.url}/readyz", timeout=10)
        return answer.status_code, answer.json(), time.monotonic() - started

    def becomes(status, failing=()):
        def seen():
            code, body, _ = ready()
            return code == status and [part for part, said in body["checks"].items() if said != "ok"] == list(failing)
        wait_until(seen, timeout=30, what=f"/readyz to answer {status} with {failing or 'nothing'} failing")
        return ready()[1]

    try:
        code, body, took = ready()
        assert code == 200 and body["checks"] == {"database": "ok", "redis": "ok", "engine": "ok"}, body
        assert took < 0.5
        for part, stop, start in (("redis", redis_server.stop, redis_server.start),
                                  ("database", postgres.stop, postgres.start),
                                  ("engine", door.close, door.open)):
            stop()
            said = becomes(503, [part])
            assert said["message"] == f"Not ready: {part} not answering" and "127.0.0.1" not in str(said)
            assert requests.get(f"{server.url}/healthz", timeout=10).json() == {"status": "ok"}
            start()
            becomes(200)
        assert ready()[2] < 0.5
    finally:
        stop_server(server)
        redis_server.stop() if redis_server.process.poll() is None else None
        postgres.remove()
