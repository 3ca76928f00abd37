"""`when:` in a .stoker.yml: the events, branches and changed paths a build, or a step, runs for.

A condition left out matches everything. `branch` is the branch a push went
to, the branch a pull request goes into, or the branch a manual or scheduled
run built; a tag is of no branch. `path` is held against the files the
change touched, as git in the mirror tells them (never the payload's list,
which GitHub caps); where no change can be told (a tag, a manual or
scheduled run, a base the mirror lacks) it matches, so nothing is skipped
on a guess.
"""
from dataclasses import dataclass
from typing import Callable

from .globs import matches


@dataclass(frozen=True)
class When:
    # The line of the file it is on, for the log's line that says why something was skipped.
    line: int
    event: tuple | None = None
    branch: tuple | None = None
    path: tuple | None = None
    # For a step: whether it runs after success, failure or either (see Step.statuses).
    status: tuple | None = None

    def excludes(self, context):
        """Why it does not run for `context` (naming the condition and its line), or None when it runs."""
        where = f"when on line {self.line}"
        if self.event is not None and context.event not in self.event:
            return f"{where} asks for event {', '.join(self.event)}, and this build's event is {context.event}"
        if self.branch is not None:
            if context.branch is None:
                return f"{where} asks for branch {', '.join(self.branch)}, and this build is of no branch"
            if not matches(self.branch, context.branch):
                return f"{where} asks for branch {', '.join(self.branch)}, and this build's branch is {context.branch}"
        if self.path is not None:
            changed = context.changed_files()
            if changed is not None and not any(matches(self.path, name) for name in changed):
                return (f"{where} asks for changes under {', '.join(self.path)}, and none of the "
                        f"{len(changed)} changed file(s) is")
        return None


@dataclass
class Context:
    """What `when:` is held against: the build's event and branch, and its changed files."""

    event: str
    branch: str | None
    # Called at most once, and only if a `path` condition asks: a list of paths, or None.
    find_changed: Callable = lambda: None
    _changed: object = None
    _found: bool = False

    def changed_files(self):
        if not self._found:
            self._changed, self._found = self.find_changed(), True
        return self._changed
