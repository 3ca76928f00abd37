"""A .stoker.yml of a few hundred bytes that would read into gigabytes is measured first and refused,
naming the line, in well under a second and a few megabytes."""
import resource
import time
import tracemalloc
from contextlib import contextmanager

import pytest

from pipeline.plan import PlanError, parse
from tests.support import BOMBS


@contextmanager
def measured(seconds=1, megabytes=20):
    """Fail unless the block takes under `seconds` and at most `megabytes` of Python objects at its
    peak. The process's address space is capped meanwhile, so that a parser that does expand a bomb
    fails here with a MemoryError instead of taking the machine's memory (the matrix wants 100 GB)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/statm") as statm:
        size = int(statm.read().split()[0]) * resource.getpagesize()
    resource.setrlimit(resource.RLIMIT_AS, (size + 1024 ** 3, hard))
    tracemalloc.start()
    started = time.perf_counter()
    try:
        yield
    finally:
        took, (_, peak) = time.perf_counter() - started, tracemalloc.get_traced_memory()
        tracemalloc.stop()
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    assert took < seconds and peak < megabytes * 1024 ** 2, f"{took:.2f} s, {peak / 1024 ** 2:.1f} MB at the peak"


@pytest.mark.parametrize("text, line, words", BOMBS, ids=["matrix", "laughs", "aliased", "image", "values", "deep",
                                                               "setting"])
def test_a_bomb_is_refused_naming_the_line_in_under_a_second_and_20_mb(text, line, words):
    with measured(), pytest.raises(PlanError) as caught:
        parse(text)
    assert str(caught.value) == f".stoker.yml line {line}: {words}"


def test_the_most_a_file_may_hold_still_reads_and_expands_within_the_bounds():
    """16 combinations of 100 steps, each waiting on every one before it: 1600 steps and some 80,000
    names waited on, as shared names rather than made again for each."""
    steps = "".join(f"  - {{name: s{n}, commands: x, depends_on: [{', '.join(f's{m}' for m in range(n))}]}}\n"
                    for n in range(100))
    text = "matrix:\n  A: [1, 2, 3, 4]\n  B: [1, 2, 3, 4]\nimage: 'img:${A}-${B}'\nsteps:\n" + steps
    with measured(seconds=2, megabytes=4):
        plan = parse(text).expanded()
    assert len(plan.steps) == 1600 and plan.steps[-1].image == "img:4-4"
    assert plan.steps[-1].depends_on[-1] == "s98 (A=4, B=4)"


def test_a_name_waited_on_many_times_is_waited_on_once():
    plan = parse("steps:\n  - {name: a, commands: x}\n"
                 "  - {name: b, commands: x, depends_on: [" + "a, " * 5000 + "a]}\n")
    assert plan.steps[1].depends_on == ("a",)
