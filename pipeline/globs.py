"""Glob patterns over slash-separated names (branches, changed files), as CI files write them.

`*` matches within one segment, `**` across segments (also none), `?` one
character other than `/`; a pattern starting with `!` excludes. Of a list,
the last pattern that matches a name decides, so `["**", "!wip/**"]` is
every branch but those under `wip/`.
"""
import re
from functools import lru_cache

MAX_PATTERNS = 50
MAX_PATTERN_LENGTH = 255


@lru_cache(maxsize=1024)
def _regex(pattern):
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("/**", i) and i + 3 == len(pattern):
            out.append("(?:/.*)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out), re.DOTALL)


def matches(patterns, name):
    """Whether `name` is one the patterns take in."""
    taken = False
    for pattern in patterns:
        excluding = pattern.startswith("!")
        if _regex(pattern[1:] if excluding else pattern).fullmatch(name):
            taken = not excluding
    return taken


def check_patterns(value, field):
    """`value` as a list of patterns, or ValueError naming `field`."""
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_PATTERNS:
        raise ValueError(f"{field} must be a list of 1 to {MAX_PATTERNS} glob patterns")
    for pattern in value:
        if (not isinstance(pattern, str) or not 1 <= len(pattern.lstrip("!")) <= MAX_PATTERN_LENGTH
                or any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in pattern)):
            raise ValueError(f"{field} must hold patterns of 1 to {MAX_PATTERN_LENGTH} characters "
                             "without spaces or control characters")
    return list(value)
