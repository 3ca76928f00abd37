"""App builds as the worker makes them (pipeline/mobile): a web app on loopback read, its icons
drawn, and an App Bundle and a universal APK packaged and signed in the builder image; beside it
an iOS project, and a bare `docker run` of the builder image, the floor any containerised build
stands on. Interleaved, medians side by side. Not a test.

    python bench/app_build.py            # or as part of bench/run.py: --only app_build

Needs the Android builder image (`stoker make-android-image`).
"""
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from pipeline.backend import named  # noqa: E402
from pipeline.mobile.android.builder import default_android_image  # noqa: E402
from pipeline.mobile.android.signing import new_signing_key  # noqa: E402
from pipeline.mobile.build import AppBuilder, AppBuildJob  # noqa: E402
from tests.support import serve_web_app  # noqa: E402


def _ms(function, *args):
    started = time.perf_counter()
    function(*args)
    return (time.perf_counter() - started) * 1000


def app_build(work, args=None, runs=7):
    image = default_android_image()
    builder = AppBuilder(work, backend=named("docker", service_subnets=()), image=image, allow_private_urls=True,
                         timeout=120)
    key, certificate = new_signing_key("com.example.bench")
    site = serve_web_app()

    def job(platform):
        return AppBuildJob(uid=uuid.uuid4().hex, platform=platform, name="Bench", bundle_id="com.example.bench",
                           version="1.0.0", url=site.url, signing_key=key, certificate=certificate)

    android, ios, bare = [], [], []
    try:
        builder.build(job("android"))  # the image's layers read once, as on a worker that has built before
        for _ in range(runs):
            android.append(_ms(builder.build, job("android")))
            ios.append(_ms(builder.build, job("ios")))
            bare.append(_ms(subprocess.run, ["docker", "run", "--rm", "--network", "none", image, "true"]))
    finally:
        site.close()
    figures = {name: {"runs": runs, "median": statistics.median(values), "p90": max(values), "p99": max(values),
                      "unit": "ms"}
               for name, values in (("app_build_android", android), ("app_build_ios", ios),
                                    ("app_build_bare_docker_run", bare))}
    figures["app_build_android_over_bare_docker_run"] = figures["app_build_android"]["median"] / statistics.median(bare)
    return figures


if __name__ == "__main__":
    with tempfile.TemporaryDirectory(prefix="stoker-bench-app-") as folder:
        figures = app_build(Path(folder))
    for name, figure in figures.items():
        print(f"{name:40} " + (f"median {figure['median']:7.0f} ms, slowest {figure['p90']:7.0f} ms ({figure['runs']} runs)"
                                if isinstance(figure, dict) else f"{figure:.2f}"))
