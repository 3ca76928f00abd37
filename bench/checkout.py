"""The checkout of a large repository (50,000 files, 10,000 commits) as a build gets it, against a
plain `git clone` of it: medians side by side. Not a test.

    python bench/checkout.py            # or as part of bench/run.py: --only large_checkout

The repository is made once per run with `git fast-import` (a few seconds): one commit of every
file, then commits changing five files each, a tag every thousand. Stoker's path is the mirror's
fetch and the workspace's checkout (pipeline/git): cold (a new mirror) and warm (the mirror has the
commit, as for every build after a push's first), full and at `clone: {depth: 1}`.
"""
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from pipeline.git.checkout import Clone, Head, check_out  # noqa: E402
from pipeline.git.command import NO_ACCESS  # noqa: E402
from pipeline.git.mirror import GitMirror, ObjectReader, mirror_path  # noqa: E402

FILES, COMMITS, CHANGED_PER_COMMIT, TAG_EVERY = 50_000, 10_000, 5, 1000


def fast_import_stream(files, commits):
    """What `git fast-import` reads to make the repository: marks for blobs, inline contents."""
    when = 1_700_000_000

    def commit(number, changes, out):
        message = f"commit {number}\n".encode()
        out += (f"commit refs/heads/main\nmark :{number + 1}\n"
                f"committer Bench <bench@example.com> {when + number} +0000\n"
                f"data {len(message)}\n").encode() + message
        if number:
            out += f"from :{number}\n".encode()
        for path, content in changes:
            out += f"M 100644 inline {path}\ndata {len(content)}\n".encode() + content + b"\n"
        if number and number % TAG_EVERY == 0:
            out += f"reset refs/tags/v{number // TAG_EVERY}.0.0\nfrom :{number + 1}\n".encode()
        return out

    def path(n):
        return f"src/d{n % 500:03d}/f{n}.txt"

    out = commit(0, [(path(n), f"file {n}\n".encode() * 4) for n in range(files)], bytearray())
    for number in range(1, commits):
        out = commit(number, [(path((number * CHANGED_PER_COMMIT + k) * 7919 % files),
                               f"change {number}.{k}\n".encode() * 4) for k in range(CHANGED_PER_COMMIT)], out)
    return bytes(out)


def make_repository(where, files=FILES, commits=COMMITS):
    subprocess.run(["git", "init", "-q", "-b", "main", str(where)], check=True)
    subprocess.run(["git", "-C", str(where), "fast-import", "--quiet"], input=fast_import_stream(files, commits),
                   check=True)
    subprocess.run(["git", "-C", str(where), "checkout", "-q", "main"], check=True)
    return subprocess.run(["git", "-C", str(where), "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()


def timed(function):
    started = time.perf_counter()
    function()
    return (time.perf_counter() - started) * 1000


def large_checkout(work, args=None, runs=5):
    """Stoker's checkout of the large repository against `git clone`, each `runs` times, interleaved."""
    source = work / "large"
    head = make_repository(source)

    def mirror_of(root):
        def made(url, access=NO_ACCESS):
            return GitMirror(root, url, allow_local=True, timeout=600, access=access,
                             reader=ObjectReader(mirror_path(root, url, access)))
        return made

    def fresh():
        return Path(tempfile.mkdtemp(dir=work))

    def stoker(root, clone=Clone()):
        mirror = mirror_of(root)(str(source))
        mirror.fetch(head, "refs/heads/main")
        check_out(mirror, Head(head, "main"), fresh(), clone, mirror_of(root))

    warm = fresh()
    stoker(warm)
    times = {"cold": [], "warm": [], "warm_depth_1": [], "clone_no_local": [], "clone_local": []}
    for _ in range(runs):
        times["cold"].append(timed(lambda: stoker(fresh())))
        times["warm"].append(timed(lambda: stoker(warm)))
        times["warm_depth_1"].append(timed(lambda: stoker(warm, Clone(depth=1))))
        times["clone_no_local"].append(timed(lambda: subprocess.run(
            ["git", "clone", "-q", "--no-local", str(source), str(fresh() / "c")], check=True)))
        times["clone_local"].append(timed(lambda: subprocess.run(
            ["git", "clone", "-q", str(source), str(fresh() / "c")], check=True)))
    medians = {name: statistics.median(values) for name, values in times.items()}
    summary = {f"large_checkout_{name}": {"runs": runs, "median": medians[name], "p90": max(values),
                                          "p99": max(values), "unit": "ms"} for name, values in times.items()}
    for name in ("cold", "warm", "warm_depth_1"):
        summary[f"large_checkout_{name}_over_clone_no_local"] = medians[name] / medians["clone_no_local"]
    return summary


if __name__ == "__main__":
    with tempfile.TemporaryDirectory(prefix="stoker-bench-large-") as folder:
        results = large_checkout(Path(folder))
    for name, value in results.items():
        print(f"{name:55} {value['median']:9.0f} ms" if isinstance(value, dict) else f"{name:55} {value:9.2f}x")
