"""Hostile pipeline files: a few hundred bytes each that would read into gigabytes, each with the
line and the words it must be refused with."""
from pipeline.plan import MAX_VALUES

STEP = "steps:\n  - {name: a, commands: x}\n"
MATRIX_BOMB = "matrix:\n" + "".join(f"  A{axis}: [{', '.join(map(str, range(40)))}]\n" for axis in range(6)) + STEP
LAUGHS = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{name}: &{name} [{', '.join([f'*{alias}'] * 10)}]\n" for alias, name in zip("abcdefgh", "bcdefghi"))
ALIASED = ("env:\n  BIG: &big " + "x" * 100_000 + "\nsteps:\n  - name: a\n    commands: ["
           + ", ".join(["*big"] * 1000) + "]\n")
IMAGE_BOMB = "matrix:\n  A: ['" + "a" * 100_000 + "']\nimage: '" + "${A}" * 30_000 + "'\n" + STEP
MANY_VALUES = "steps:\n  - name: a\n    commands: [" + "x," * MAX_VALUES + "x]\n"
DEEP = "steps: " + "[" * 50_000 + "]" * 50_000 + "\n"
# A plugin setting's map as JSON, each control character six: 240 KB of file, 360 KB of variable.
SETTING_BOMB = 'steps:\n  - name: a\n    image: p\n    settings:\n      big: {k: "' + "\\x01" * 60_000 + '"}\n'

BOMBS = [
    (MATRIX_BOMB, 2, "the matrix makes over a million combinations; at most 16"),
    (LAUGHS, 1, "anchors and aliases (&, *) are not supported"),
    (ALIASED, 2, "anchors and aliases (&, *) are not supported"),
    (IMAGE_BOMB, 3, "image is 3000000000 characters with its matrix values; at most 255"),
    (MANY_VALUES, 3, f"the file has more than {MAX_VALUES} values; at most {MAX_VALUES}"),
    (DEEP, 1, "lists and mappings nest more than 8 deep here; at most 8"),
    (SETTING_BOMB, 5, "setting 'big' is 360008 bytes as a variable; at most 65536"),
]
