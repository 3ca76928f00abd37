"""Android's own checks, run offline: bundletool (a release from PyPI, a test dependency), and the
framework's public API as Debian ships it in its Android framework sources (core/api/current.txt of
android-platform-frameworks-base 14, fetched once from the Debian mirror and checked by hash).

`python -m tests.support.android` fetches the API file ahead (.ci/run does); the fixtures fetch it
themselves when it is missing.
"""
import hashlib
import io
import lzma
import os
import re
import subprocess
import tarfile
import urllib.request
from pathlib import Path

import pybundletool

from pipeline.debian import DEFAULT_MIRROR

SOURCES = ("pool/main/a/android-platform-frameworks-base/"
           "android-platform-frameworks-base_14~beta1.orig.tar.xz")
SOURCES_SHA256 = "c1d64d78588fc7641923ad05b5ef12c3366f73b8bbca429f13f60c981e166d35"
API_FILE = "./core/api/current.txt"
CACHE = Path(os.environ.get("STOKER_TEST_CACHE", "/var/tmp/stoker-test-cache"))
BUNDLETOOL = Path(pybundletool.__file__).parent / "binary-files"


def bundletool(*args):
    """Run bundletool (its own aapt2 beside it); return its output, failing the test on a non-zero exit."""
    extra = [f"--aapt2={BUNDLETOOL / 'aapt2'}"] if args[0] == "build-apks" else []
    done = subprocess.run([str(BUNDLETOOL / "bundletool"), *args, *extra], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, f"bundletool {args[0]} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def api_file(mirror=DEFAULT_MIRROR):
    """The path of Android 14's core/api/current.txt, fetched and checked the first time."""
    path = CACHE / "android-14-current.txt"
    if path.is_file():
        return path
    with urllib.request.urlopen(f"{mirror.rstrip('/')}/{SOURCES}", timeout=120) as response:
        archive = response.read()
    assert hashlib.sha256(archive).hexdigest() == SOURCES_SHA256, "the Debian source archive changed"
    with tarfile.open(fileobj=io.BytesIO(lzma.decompress(archive))) as tar:
        text = tar.extractfile(API_FILE).read()
    CACHE.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_bytes(text)
    partial.replace(path)
    return path


# An annotation, its arguments' quoted strings (which may hold parentheses) included.
ANNOTATION = re.compile(r'@[\w.]+(\((?:"(?:[^"\\]|\\.)*"|[^()"])*\))?\s*')
# A type variable (T, K, V, E...), which erases to Object.
TYPE_VARIABLE = re.compile(r"[A-Z][A-Z0-9]?")
GENERICS = re.compile(r"<[^<>]*>")
CLASS = re.compile(r"\s*(?:[\w ]*?)(?:class|interface|enum|@interface) ([\w.]+)(?:<.*?>)?"
                   r"(?: extends ([\w.<>, ?]+?))?(?: implements ([\w.<>, ?]+?))? \{")
MEMBER = re.compile(r"\s*(ctor|method|field|enum_constant) (.*?)(\w+)(?:\((.*)\))?(?: throws [\w., ]+)?(?: = .*)?;")
OBJECT_METHODS = ("<init>", "equals", "hashCode", "toString", "getClass", "notify", "notifyAll", "wait")
PRIMITIVES = {"Z": "boolean", "B": "byte", "C": "char", "S": "short", "I": "int", "J": "long", "F": "float",
              "D": "double", "V": "void"}


def _erase(kind):
    """A signature file's type as the simple name it erases to: `java.util.List<String>...` is `List[]`."""
    kind = kind.strip()
    while GENERICS.search(kind):
        kind = GENERICS.sub("", kind)
    arrays = kind.count("[]") + (1 if kind.endswith("...") else 0)
    base = kind.replace("[]", "").replace("...", "").strip().split(" ")[0].rsplit(".", 1)[-1]
    return ("Object" if TYPE_VARIABLE.fullmatch(base) else base) + "[]" * arrays


def _split(params):
    parts, depth, current = [], 0, ""
    for ch in params:
        depth += {"<": 1, ">": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    return [p for p in (*parts, current) if p.strip()]


def _dex_types(descriptor):
    """A dex method descriptor's parameters as simple names: (Ljava/lang/String;[I)V is (String, int[])."""
    inside = descriptor[1:descriptor.index(")")].replace(" ", "")
    names, i = [], 0
    while i < len(inside):
        arrays = 0
        while inside[i] == "[":
            arrays, i = arrays + 1, i + 1
        if inside[i] == "L":
            end = inside.index(";", i)
            name = inside[i + 1:end].rsplit("/", 1)[-1].rsplit("$", 1)[-1]
            i = end + 1
        else:
            name, i = PRIMITIVES[inside[i]], i + 1
        names.append(name + "[]" * arrays)
    return tuple(names)


class FrameworkApi:
    """The public classes of an API signature file: each one's supertypes, methods and fields."""

    def __init__(self, text):
        self.classes = {}
        package, current = None, None
        for line in text.splitlines():
            line = ANNOTATION.sub("", line)
            if line.startswith("package "):
                package = line.split()[1]
            elif (matched := CLASS.match(line)) and not line.startswith("    "):
                name = f"{package}.{matched[1]}"
                supers = [s for group in (matched[2], matched[3]) if group
                          for s in GENERICS.sub("", group).replace(",", " ").split()]
                current = self.classes[name] = {"supers": supers, "members": set()}
            elif current is not None and (matched := MEMBER.match(line)):
                kind, _, name, params = matched.groups()
                if kind == "ctor":
                    name = "<init>"
                types = tuple(_erase(p) for p in _split(params or "")) if kind in ("ctor", "method") else None
                current["members"].add((name, types))

    def _has(self, class_name, member, referred=True):
        if class_name.startswith(("java.", "javax.", "org.json.")):
            # A class of libcore (Java's API and org.json, which every Android runtime has) when the dex names it;
            # reached as a framework class's supertype, only what every object has.
            return referred or member[0] in OBJECT_METHODS
        found = self.classes.get(class_name)
        if found is None:
            return False
        if member in found["members"]:
            return True
        supers = found["supers"] or ["java.lang.Object"]
        return any(self._has(s if "." in s else f"java.lang.{s}", member, referred=False) for s in supers)

    def missing_from(self, dex, own="Ldev/stoker/"):
        """Every framework method and field `dex` refers to that the API lacks, as dex writes it."""
        missing = []
        for ref in dex.get_methods_id_item().get_obj():
            owner = ref.get_class_name()
            if owner.startswith(own) or owner.startswith("["):
                continue
            member = (ref.get_name(), _dex_types(ref.get_descriptor()))
            if not self._has(owner[1:-1].replace("/", ".").replace("$", "."), member):
                missing.append(f"{owner}->{ref.get_name()}{ref.get_descriptor()}")
        for ref in dex.get_fields_id_item().get_obj():
            owner = ref.get_class_name()
            if not owner.startswith(own) and not self._has(owner[1:-1].replace("/", ".").replace("$", "."),
                                                           (ref.get_name(), None)):
                missing.append(f"{owner}->{ref.get_name()}")
        return missing


if __name__ == "__main__":
    print(api_file())


def _pool_length(data, at, utf8):
    """A string pool entry's length prefix: (length, bytes it took)."""
    if utf8:
        first = data[at]
        return ((first & 0x7F) << 8 | data[at + 1], 2) if first & 0x80 else (first, 1)
    first = int.from_bytes(data[at:at + 2], "little")
    return ((first & 0x7FFF) << 16 | int.from_bytes(data[at + 2:at + 4], "little"), 4) if first & 0x8000 \
        else (first, 2)


def string_values(apk_bytes):
    """The string values of an APK's resources.arsc, as a device reads them.

    aapt2 writes a character beyond the BMP (an emoji) as two UTF-8-encoded surrogates, which
    Android decodes into the surrogate pair it stands for; androguard reads them as garbage, so
    the global string pool is read here. File paths (res/...) are left out.
    """
    import struct
    import zipfile
    data = zipfile.ZipFile(io.BytesIO(apk_bytes)).read("resources.arsc")
    pool = struct.unpack_from("<HHI", data, 0)[1]  # the table header's size: the pool follows it
    kind, header, _, count, _, flags, strings_start, _ = struct.unpack_from("<HHIIIIII", data, pool)
    assert kind == 0x0001, "resources.arsc does not start with a string pool"
    utf8 = bool(flags & 0x100)
    values = []
    for index in range(count):
        at = pool + strings_start + struct.unpack_from("<I", data, pool + header + 4 * index)[0]
        if utf8:
            at += _pool_length(data, at, True)[1]  # its length in UTF-16 units
            length, taken = _pool_length(data, at, True)
            raw = data[at + taken:at + taken + length]
            text = raw.decode("utf-8", "surrogatepass").encode("utf-16-le", "surrogatepass").decode("utf-16-le")
        else:
            length, taken = _pool_length(data, at, False)
            text = data[at + taken:at + taken + 2 * length].decode("utf-16-le")
        if not text.startswith("res/"):
            values.append(text)
    return values


def runtime_annotations(dex, class_descriptor):
    """{method name: [annotation types]} of a class's methods whose annotations a runtime sees."""
    found = {}
    for defined in dex.get_classes():
        if defined.get_name() != class_descriptor or not defined.annotations_directory_item:
            continue
        for annotated in defined.annotations_directory_item.get_method_annotations():
            name = dex.CM.get_method_ref(annotated.get_method_idx()).get_name()
            for item in dex.CM.get_obj_by_offset(annotated.get_annotations_off()).get_annotation_off_item():
                annotation = dex.CM.get_obj_by_offset(item.get_annotation_off())
                if annotation.get_visibility() == 1:  # VISIBILITY_RUNTIME
                    found.setdefault(name, []).append(dex.CM.get_type(annotation.get_annotation().get_type_idx()))
    return found
