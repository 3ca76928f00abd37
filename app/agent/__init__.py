"""`stoker agent`: a build host that holds no key but its own token. It asks the server for work
over the agent API (app/api/agent.py), runs each build it is given on this host's engine as a
worker would (pipeline/), and sends back its log, its steps and how it ended, each under the lease
the build was given with. It reads no database, no Redis and no server secret: a build that
escapes onto this host finds none of them.
"""
import json
import logging
import os
import socket
import threading
import time
from contextlib import ExitStack
from datetime import timezone
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as installed
from urllib.parse import quote

import requests

from pipeline import watching
from pipeline.git.command import Relay
from pipeline.logstream import LogStream
from pipeline.runner import ArtifactNotKept, BuildJob, about, run_watched
from pipeline.watching import WATCH_SECONDS

from .. import runtime

log = logging.getLogger(__name__)

# How long a request for work is held by the server, and how long we wait for its answer.
HOLD_SECONDS = 25
# Backoff between tries when the server cannot be reached: from the first to the longest.
FIRST_PAUSE, LONGEST_PAUSE = 0.5, 30.0


class Revoked(Exception):
    """The server refuses the agent's token: it was revoked, and the agent stops."""


class LeaseLost(Exception):
    """The build is no longer this agent's (taken over, finished, deleted): its writes are refused."""


class Server:
    """The agent API, with the agent's token; a request that cannot get through is tried again with
    backoff while `stopping` is not set."""

    def __init__(self, url, token, stopping):
        self.url, self.token, self.stopping = url.rstrip("/"), token, stopping
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.headers.update({"Authorization": f"Bearer {token}", "User-Agent": "stoker-agent"})

    def post(self, path, body, timeout=30, patient=True):
        """The answer's JSON (None for none); LeaseLost, Revoked, RuntimeError for a refusal, and
        ConnectionError when the server cannot be reached and this is not `patient` (or stopping)."""
        pause = FIRST_PAUSE
        while True:
            try:
                answer = self.session.post(self.url + path, json=body, timeout=timeout, allow_redirects=False)
            except requests.RequestException as exc:
                problem = f"cannot reach the server ({type(exc).__name__})"
            else:
                if answer.status_code == 401:
                    raise Revoked(_message(answer))
                if answer.status_code in (404, 409):
                    raise LeaseLost(_message(answer))
                if answer.status_code < 400:
                    return answer.json() if answer.content else None
                if answer.status_code < 500 and answer.status_code != 429:
                    raise RuntimeError(f"the server refused {path}: {_message(answer)}")
                problem = f"the server answered {answer.status_code}"
            if self.stopping.is_set() or not patient:
                raise ConnectionError(problem)
            log.warning("%s; trying again in %g s", problem, pause)
            self.stopping.wait(pause)
            pause = min(pause * 2, LONGEST_PAUSE)


    def upload(self, lease, found, file):
        """Send one of the build's artifacts, streamed from its file; ArtifactNotKept saying why not."""
        headers = {"Content-Type": "application/octet-stream", "X-Artifact-Name": quote(found.name, safe="/"),
                   "X-Artifact-Report": "1" if found.report else "0"}
        try:
            answer = self.session.post(f"{self.url}/api/agent/jobs/{lease}/artifacts", data=file, headers=headers,
                                       timeout=(10, 300), allow_redirects=False)
        except requests.RequestException as exc:
            raise ArtifactNotKept(f"Artifact {found.name!r} not kept: cannot reach the server ({type(exc).__name__})") \
                from None
        if answer.status_code != 201:
            raise ArtifactNotKept(f"Artifact {found.name!r} not kept: {_message(answer)}")


def _message(answer):
    try:
        return answer.json().get("message", answer.reason)
    except ValueError:
        return answer.reason


class RemoteLog(LogStream):
    """A build's log (or one step's) sent to the server piece by piece, each at its byte offset, so a
    piece sent again after a lost answer is kept once."""

    def __init__(self, server, lease, start, cap, mask, step=None):
        self.server, self.lease, self.first, self.step = server, lease, start, step
        super().__init__(cap, mask, name=f"log-{lease[-8:]}")

    def start(self):
        return self.first

    def save(self, offset, data):
        body = {"offset": offset, "data": data.decode()}
        if self.step is not None:
            body["step"] = self.step
        try:
            return self.server.post(f"/api/agent/jobs/{self.lease}/log", body)["next"]
        except (LeaseLost, Revoked):
            return None
        except (ConnectionError, RuntimeError) as exc:
            self.lost = f"the build's log could not be sent from byte {offset} on ({exc})"
            return None


class BuildAgent:
    """Runs up to `concurrency` builds at once, each slot asking for the next when it is free."""

    def __init__(self, server_url, token, config, engine, make_runner, concurrency):
        self.stopping = threading.Event()
        self.server = Server(server_url, token, self.stopping)
        self.config, self.engine, self.concurrency = config, engine, concurrency
        # A runner a slot, its containers labelled as a worker's are (host:pid:slot): a slot killing
        # a run it lost kills none of another slot's, and a host sweeping after a crash finds them.
        self.runners = [make_runner(config, engine, {"stoker.worker": f"{socket.gethostname()}:{os.getpid()}:{slot}"})
                        for slot in range(concurrency)]
        self.running = {}

    def start(self):
        """Its slots, each a green thread."""
        return [runtime.spawn(self._slot, runner) for runner in self.runners]

    def stop(self):
        self.stopping.set()
        for halt in list(self.running.values()):
            halt.set()

    def kill_all(self):
        for runner in self.runners:
            runner.kill_containers()

    def _slot(self, runner):
        while not self.stopping.is_set():
            try:
                given = self.server.post("/api/agent/jobs/next", {
                    "wait": HOLD_SECONDS, "concurrency": self.concurrency, "version": version()},
                    timeout=HOLD_SECONDS + 10)
            except Revoked as exc:
                log.error("the server refuses this agent's token (%s): stopping", exc)
                self.stop()
                return
            except ConnectionError:
                return
            except Exception:
                log.exception("could not ask for work")
                self.stopping.wait(FIRST_PAUSE)
                continue
            if given is None:
                continue
            # Taken up at once: only now does the server send what the build needs.
            try:
                started = self.server.post(f"/api/agent/jobs/{given['lease']}/start", {})
            except (LeaseLost, ConnectionError, RuntimeError) as exc:
                log.warning("build %s was offered but could not be taken up (%s)", given["buildId"], exc)
                continue
            except Revoked:
                self.stop()
                return
            try:
                with about(given["buildId"]):
                    self._run(runner, given["lease"], started)
            except Exception:
                # The slot goes on; the build's lease lapses and the server takes it back.
                log.exception("build %s could not be run here", given["buildId"])

    def _run(self, runner, lease, given):
        # Its repository comes through the server, under this lease: no credential of it is here.
        relay = Relay(f"{self.server.url}/api/agent/jobs/{lease}/git", self.server.token)
        job = BuildJob.given(given["job"], self.config["STOKER_DATA_DIR"], carried=tuple(given.get("labels", ())),
                             relay=relay)
        log.info("agent runs build %s (%s)", job.build_id, job.commit_hash[:12])
        mask, cap, ends = job.mask(), given["logMaxBytes"], given.get("logEnds", {})
        build_log = RemoteLog(self.server, lease, ends.get("", 0), cap, mask)
        step_logs = {}

        def step_output(name, raw):
            if name not in step_logs:
                step_logs[name] = RemoteLog(self.server, lease, ends.get(name[:100], 0), cap, mask.fresh(),
                                            step=name[:100])
            step_logs[name].write(raw)

        watch = Watch(self, runner, lease, job, say=lambda line: build_log.write(f"\n==> {line}\n".encode()))
        self.running[lease] = watch.halt
        # The build's containers and workspace go once its end is sent.
        with ExitStack() as later:
            try:
                outcome, reason = run_watched(runner, job, watch, build_log.write,
                                              lambda result, status: self._step(lease, result, status), step_output,
                                              later, mask.of_bytes, self.stopping,
                                              on_artifact=lambda found, file: self.server.upload(lease, found, file))
            finally:
                self.running.pop(lease, None)
                build_log.close()
                for step_log in step_logs.values():
                    step_log.close()
            if build_log.lost:
                outcome.error, reason = build_log.lost, reason or "log lost"
            self._finish(lease, job, reason, outcome, mask)

    def _finish(self, lease, job, reason, outcome, mask):
        try:
            self.server.post(f"/api/agent/jobs/{lease}/finish", {
                "exitCode": outcome.exit_code, "skipped": outcome.skipped, "reason": reason,
                "error": mask.mask(outcome.error), "commitMessage": outcome.commit_message,
                "commitAuthor": outcome.commit_author,
                "labelsNeeded": list(outcome.labels_needed) if reason is None else []})
        except (LeaseLost, Revoked, ConnectionError, RuntimeError) as exc:
            log.warning("build %s: its end was not taken (%s)", job.build_id, exc)

    def _step(self, lease, result, status):
        try:
            self.server.post(f"/api/agent/jobs/{lease}/steps", {
                "position": result.position, "name": result.name[:100], "status": status,
                "exitCode": result.exit_code, "startedAt": _iso(result.started_at),
                "finishedAt": _iso(result.finished_at), "matrix": _matrix(result.matrix)})
        except (LeaseLost, Revoked, ConnectionError, RuntimeError) as exc:
            log.info("step %s not kept: %s", result.name, exc)


class Watch(watching.Watch):
    """Keeps a running build's lease, and halts the build when it is canceled, runs too long, or
    turns out to be another's (its lease taken over, the build deleted)."""

    def __init__(self, agent, runner, lease, job, say):
        super().__init__(f"watch-{job.build_id}", job.timeout, say)
        self.agent, self.runner, self.lease, self.job = agent, runner, lease, job

    def run(self):
        renewed = time.monotonic()
        every = max(1.0, min(self.agent.config["STOKER_LEASE_SECONDS"] / 3, 10.0))
        while True:
            if self.reason is None and time.monotonic() - renewed > every:
                try:
                    answer = self.agent.server.post(f"/api/agent/jobs/{self.lease}/renew", {}, timeout=10,
                                                    patient=False)
                    renewed = time.monotonic()
                    if answer["halt"] == "canceled":
                        self.stop_job("canceled", "Canceled")
                except (LeaseLost, Revoked):
                    self.stop_job("lost", "This agent lost its lease on the build; stopping here")
                except (ConnectionError, RuntimeError):
                    pass
            if self.done.wait(WATCH_SECONDS):
                return
            if self.reason is None and self.overdue():
                self.stop_job("timeout", f"Timed out after {self.timeout:g} s; stopping the build")
            if self.halt.is_set():
                self.runner.kill_containers(self.job.build_id)


def _iso(moment):
    return moment and moment.replace(tzinfo=timezone.utc).isoformat()


def _matrix(matrix):
    return json.dumps(matrix) if matrix else None


def version():
    try:
        return installed("stoker")[:40]
    except PackageNotFoundError:
        return None
