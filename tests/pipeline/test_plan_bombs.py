"""A .stoker.yml of a few hundred bytes that would read into gigabytes is measured first and refused,
naming the line, in well under a second and a few megabytes."""
import resource
import time
import tracemalloc
from contextlib import contextmanager

import pytest

from pipeline.plan import MAX_VALUES, PlanError, parse

STEP = "steps:\n  - {name: a, commands: x}\n"
MATRIX_BOMB = "matrix:\n" + "".join(f"  A{axis}: [{', '.join(map(str, range(40)))}]\n" for axis in range(6)) + STEP
LAUGHS = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{name}: &{name} [{', '.join([f'*{alias}'] * 10)}]\n" for alias, name in zip("abcdefgh", "bcdefghi"))
ALIASED = ("env:\n  BIG: &big " + "x" * 100_000 + "\nsteps:\n  - name: a\n    commands: ["
           + ", ".join(["*big"] * 1000) + "]\n")
IMAGE_BOMB = "matrix:\n  A: ['" + "a" * 100_000 + "']\nimage: '" + "${A}" * 30_000 + "'\n" + STEP
MANY_VALUES = "steps:\n  - name: a\n    commands: [" + "x," * MAX_VALUES + "x]\n"
DEEP = "steps: " + "[" * 50_000 + "]" * 50_000 + "\n"

BOMBS = [
    (MATRIX_BOMB, 2, "the matrix makes over a million combinations; at most 16"),
    (LAUGHS, 1, "anchors and aliases (&, *) are not supported"),
    (ALIASED, 2, "anchors and aliases (&, *) are not supported"),
    (IMAGE_BOMB, 3, "image is 3000000000 characters with its matrix values; at most 255"),
    (MANY_VALUES, 3, f"the file has more than {MAX_VALUES} values; at most {MAX_VALUES}"),
    (DEEP, 1, "lists and mappings nest more than 8 deep here; at most 8"),
]


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


@pytest.mark.parametrize("text, line, words", BOMBS, ids=["matrix", "laughs", "aliased", "image", "values", "deep"])
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
