"""Glob patterns match as CI files mean them, and in time bounded by the pattern and the name."""
import time

import pytest

from pipeline.globs import matches

CASES = [
    ("main", "main", True), ("main", "mainline", False), ("release/*", "release/1.0", True),
    ("release/*", "release/1.0/fix", False), ("release/**", "release/1.0/fix", True), ("release/**", "release", True),
    ("**", "anything/at/all", True), ("**", "", True), ("**/*.md", "README.md", True),
    ("**/*.md", "docs/a/b.md", True), ("**/*.md", "docs/a/b.mdx", False), ("src/**/test_*.py", "src/test_a.py", True),
    ("src/**/test_*.py", "src/x/y/test_a.py", True), ("src/**/test_*.py", "srcx/test_a.py", False),
    ("v?.?", "v1.2", True), ("v?.?", "v1/2", False), ("a*b", "a/b", False), ("a**b", "a/x/b", True),
    ("*", "", True), ("?", "", False), ("feature-[x]", "feature-[x]", True), ("a.b", "axb", False),
    ("docs/**", "docs", True), ("docs/**", "docsx", False), ("**/", "a/", True), ("**/", "a", False),
]


@pytest.mark.parametrize("pattern,name,expected", CASES)
def test_a_pattern_takes_what_ci_files_mean_by_it(pattern, name, expected):
    assert matches([pattern], name) is expected


def test_the_last_matching_pattern_decides():
    assert matches(["**", "!wip/**"], "main") and not matches(["**", "!wip/**"], "wip/x")
    assert matches(["**", "!wip/**", "wip/keep"], "wip/keep")


@pytest.mark.parametrize("pattern,name", [
    ("a*" * 20 + "b", "a" * 60),                      # stars that a backtracking matcher tries every way
    ("**a" * 20 + "b", "a/" * 30),
    ("*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b", "a" * 60),
    ("**/" * 40 + "x", "a/" * 100),
    ("?*" * 127 + "/", "b" * 255),
])
def test_adversarial_patterns_answer_within_milliseconds(pattern, name):
    started = time.perf_counter()
    assert not matches([pattern], name)
    assert time.perf_counter() - started < 0.1
