"""A plan's steps as a graph: each starts as soon as the steps it waits for have ended, side by side
with any other that can, or is skipped when what happened before it is not what it asks for.

A step is *failing* when it failed (and does not ignore failure) or any step it waits for, however
far back, is failing. A step runs when its `when:` conditions hold and, if something before it is
failing, it asks to run on failure (`when: {status: [failure]}`); otherwise it is skipped, and the
steps after it see what it saw. With no `depends_on` anywhere each step waits for the one before it,
so a file runs in order, stopping at the first failure, as it always has.
"""
import threading
from dataclasses import dataclass

from .backend import BuildError
from .words import After, StepStatus

PASSED, FAILED, SKIPPED = StepStatus.PASSED, StepStatus.FAILED, StepStatus.SKIPPED
# A step that failed and ignores it: reported as failed, but the steps after it see no failure.
IGNORED = "ignored"


@dataclass
class Ended:
    """How one step of the graph ended: its state, its result (None if it never ran), and why it
    was skipped."""

    state: str
    result: object = None
    reason: str | None = None


def run_graph(steps, needs, run_step, *, skip_reason, on_end, halt=None):
    """Run `steps` (a plan's, in file order) by `needs` ({name: names it waits for}).

    `run_step(position, step)` runs one in a thread of its own and returns its StepResult;
    `skip_reason(step)` says why its own `when:` leaves it out, or None; `on_end(position, step,
    ended)` hears of each as it ends or is skipped. Once `halt` is set, or a step could not run at
    all (BuildError), no further step starts. Returns {name: Ended} of the steps that ended, the
    exit code of the first step that failed the build (None if none did), and the first BuildError.
    """
    names = {step.name: position for position, step in enumerate(steps)}
    ended, failing, running = {}, {}, set()
    first_failure, problem = [None], [None]
    changed = threading.Condition()

    def stopping():
        return problem[0] is not None or (halt is not None and halt.is_set())

    def finish(position, step, outcome):
        with changed:
            ended[step.name] = outcome
            failing[step.name] = outcome.state == FAILED or any(failing[n] for n in needs[step.name])
            running.discard(step.name)
            if outcome.state == FAILED and first_failure[0] is None and outcome.result is not None:
                first_failure[0] = outcome.result.exit_code
            changed.notify_all()
        on_end(position, step, outcome)

    def run(position, step):
        try:
            result = run_step(position, step)
        except Exception as exc:
            # Whatever went wrong, the step has ended: the graph must hear of it, or it waits forever.
            with changed:
                problem[0] = problem[0] or (exc if isinstance(exc, BuildError) else BuildError(f"internal error: {exc}"))
            finish(position, step, Ended(FAILED, None, str(exc)))
            return
        state = PASSED if result.exit_code == 0 else IGNORED if step.failure == "ignore" else FAILED
        finish(position, step, Ended(state, result))

    threads = []
    with changed:
        while True:
            ready = [step for step in steps if step.name not in ended and step.name not in running
                     and all(n in ended for n in needs[step.name])]
            if not stopping():
                for step in ready:
                    position = names[step.name]
                    after_failure = any(failing[n] for n in needs[step.name])
                    reason = skip_reason(step)
                    if reason is None and (After.FAILURE if after_failure else After.SUCCESS) not in step.statuses:
                        reason = (f"it runs {' or '.join(step.statuses)}, and a step before it failed"
                                  if after_failure else "it runs only after a failure, and none came before it")
                    if reason is not None:
                        changed.release()
                        try:
                            finish(position, step, Ended(SKIPPED, None, reason))
                        finally:
                            changed.acquire()
                        continue
                    running.add(step.name)
                    thread = threading.Thread(target=run, args=(position, step), name=f"step-{step.name}",
                                              daemon=True)
                    threads.append(thread)
                    thread.start()
            if not running and (stopping() or len(ended) == len(steps)):
                break
            if not running and not ready:
                break  # nothing can start: only while stopping, which the line above covers
            changed.wait(0.5 if running else 0)
    for thread in threads:
        thread.join()
    return ended, first_failure[0], problem[0]
