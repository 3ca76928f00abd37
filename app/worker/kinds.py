"""How a worker runs each kind of job: one entry a kind, beside its record in records/jobs.py.

An entry names the kind, the tool a worker makes for it once (from the app, its
backend and the labels its containers carry) and the function that runs one
claimed job with that tool. A web process never imports this module, so it never
loads what runs builds.
"""
from dataclasses import dataclass
from typing import Callable

from ..records.jobs import APP_BUILD, BUILD, JobKind
from ..runners import make_runner
from . import app_builds, builds


@dataclass(frozen=True)
class Executor:
    kind: JobKind
    # make_tool(app, engine, labels): a Runner, an AppBuilder.
    make_tool: Callable
    # run(worker, tool, job), once the worker has claimed `job`.
    run: Callable


EXECUTORS = (
    Executor(BUILD, lambda app, engine, labels: make_runner(app.config, engine, labels), builds.run_build),
    Executor(APP_BUILD, app_builds.make_builder, app_builds.run_app_build),
)
