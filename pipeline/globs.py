"""Glob patterns over slash-separated names (branches, changed files), as CI files write them.

`*` matches within one segment, `**` across segments (also none), `?` one
character other than `/`; a pattern starting with `!` excludes. Of a list,
the last pattern that matches a name decides, so `["**", "!wip/**"]` is
every branch but those under `wip/`.
"""
from functools import lru_cache

MAX_PATTERNS = 50
MAX_PATTERN_LENGTH = 255

# What one token of a pattern takes: a given character, any one but `/`, any run of those (`*`),
# any run at all (`**`), or nothing (where an optional part begins).
LITERAL, ONE, STAR, ANY, EMPTY = range(5)


@lru_cache(maxsize=1024)
def _tokens(pattern):
    """The pattern as (kind, character, skip) tokens; an EMPTY token begins an optional part
    (`**/`, and a final `/**`), which may be passed over whole: `skip` says how far."""
    tokens, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            tokens += [(EMPTY, "", 3), (ANY, "", 0), (LITERAL, "/", 0)]
            i += 3
        elif pattern.startswith("/**", i) and i + 3 == len(pattern):
            tokens += [(EMPTY, "", 3), (LITERAL, "/", 0), (ANY, "", 0)]
            i += 3
        elif pattern.startswith("**", i):
            tokens.append((ANY, "", 0))
            i += 2
        elif pattern[i] in "*?":
            tokens.append((STAR if pattern[i] == "*" else ONE, "", 0))
            i += 1
        else:
            tokens.append((LITERAL, pattern[i], 0))
            i += 1
    return tuple(tokens)


def _fullmatch(tokens, name):
    """Whether the tokens take all of `name`: every place in the pattern is followed at once, one
    character at a time, so no pattern can make this backtrack (time: pattern length x name length)."""
    end = len(tokens)
    at = _closed(tokens, [True] + [False] * end)
    for ch in name:
        after = [False] * (end + 1)
        for i, (kind, char, _) in enumerate(tokens):
            if at[i]:
                if kind == ANY or (kind == STAR and ch != "/"):
                    after[i] = True
                elif (kind == ONE and ch != "/") or (kind == LITERAL and ch == char):
                    after[i + 1] = True
        if not any(after):
            return False
        at = _closed(tokens, after)
    return at[end]


def _closed(tokens, at):
    """`at` with every place reachable by taking nothing; these steps only go forward, so one pass
    in order reaches them all."""
    for i, (kind, _, skip) in enumerate(tokens):
        if at[i]:
            if kind in (STAR, ANY, EMPTY):
                at[i + 1] = True
            if skip:
                at[i + skip] = True
    return at


def matches(patterns, name):
    """Whether `name` is one the patterns take in."""
    taken = False
    for pattern in patterns:
        excluding = pattern.startswith("!")
        if _fullmatch(_tokens(pattern[1:] if excluding else pattern), name):
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
