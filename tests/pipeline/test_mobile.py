"""The app-build pipeline without the server: version codes, labels through the real aapt,
and reading web apps (pages, redirects, manifests, icons) that try to mislead it."""
import io
import json
import threading
import time

import pytest
import semver
from androguard.core.apk import APK
from loguru import logger
from PIL import Image

from pipeline.backend import named
from pipeline.mobile import icons
from pipeline.mobile.android.signing import new_signing_key
from pipeline.mobile.android.sources import START_URL_KEY, version_code
from pipeline.mobile.build import AppBuilder, AppBuildFailed, AppBuildJob
from pipeline.mobile.webapp import WebAppError, check_app_url, is_sound_png, read_web_app
from tests.support import Site, png
from tests.support.android import string_values

logger.remove()

VERSIONS_IN_ORDER = ["0.0.1", "0.1.0-alpha", "0.1.0", "0.9.999", "1.0.0-alpha.1", "1.0.0-rc.1", "1.0.0",
                     "1.0.1", "1.1.0", "2.0.0", "10.20.30", "209.999.999"]


def test_version_codes_never_go_down_as_versions_go_up():
    codes = [version_code(v) for v in VERSIONS_IN_ORDER]
    assert sorted(VERSIONS_IN_ORDER, key=semver.Version.parse) == VERSIONS_IN_ORDER
    assert codes == sorted(codes)
    # Strictly up but between two pre-releases of one version, which share a code.
    assert len(set(codes)) == len(codes) - 1
    assert version_code("1.0.0") == 10000009 and version_code("209.999.999") <= 2_100_000_000
    for too_big in ("210.0.0", "1.1000.0", "1.0.1000"):
        with pytest.raises(ValueError):
            version_code(too_big)


@pytest.fixture(scope="module")
def signing():
    return new_signing_key("com.example.labels")


@pytest.mark.parametrize("name", [
    "@string/app_name", "?android:attr/x", "\\@not a reference", "back\\slash\\", 'say "hi"', "it's",
    "  leading and trailing  ", "tab-free    runs   of spaces", "&amp; <b>bold</b> ]]>", "👩‍👩‍👧 family",
    "\\n is not a newline", "%s %d %1$s",
])
def test_any_label_comes_through_aapt_exactly(name, site, docker_client, android_image, tmp_path, signing):
    site.page("/", b"<p>hi</p>")
    builder = AppBuilder(tmp_path, backend=named("docker"), image=android_image, allow_private_urls=True, timeout=120)
    job = AppBuildJob(uid="label", platform="android", name=name, bundle_id="com.example.labels", version="1.0.0",
                 url=site.url + "/", signing_key=signing[0], certificate=signing[1])
    bundle, apk = builder.build(job)
    # The label as a device reads it (see string_values).
    assert string_values(apk.data) == [name]
    if name.isascii():
        assert APK(apk.data, raw=True).get_app_name() == name
    # Nothing of the build, its signing key least of all, is left on disk.
    assert list((tmp_path / "app-builds").iterdir()) == []


def test_the_app_starts_where_the_url_ends_up(site, docker_client, android_image, tmp_path, signing):
    """A URL that redirects (apex to www, a path) starts the app at the end, so the origin the app
    keeps its pages in is the page's own, not one it leaves on the first load."""
    site.page("/", b"", status=302, Location="/app/")
    site.page("/app/", b"<p>app</p>")
    builder = AppBuilder(tmp_path, backend=named("docker"), image=android_image, allow_private_urls=True, timeout=120)
    job = AppBuildJob(uid="moved", platform="android", name="Moved", bundle_id="com.example.labels", version="1.0.0",
                      url=site.url + "/", signing_key=signing[0], certificate=signing[1])
    _, apk = builder.build(job)
    manifest = APK(apk.data, raw=True).get_android_manifest_xml()
    android = "{http://schemas.android.com/apk/res/android}"
    meta = {m.get(f"{android}name"): m.get(f"{android}value") for m in manifest.iter("meta-data")}
    assert meta[START_URL_KEY] == site.url + "/app/"
    # No camera asked for: no camera in the file chooser, and no provider.
    assert "stoker.CAPTURE" not in meta and list(manifest.iter("provider")) == []


def test_a_missing_builder_image_fails_the_build_naming_the_command(site, docker_client, tmp_path, signing):
    site.page("/", b"<p>hi</p>")
    builder = AppBuilder(tmp_path, backend=named("docker"), image="stoker-android-builder:missing",
                         allow_private_urls=True, timeout=60)
    job = AppBuildJob(uid="x", platform="android", name="X", bundle_id="com.example.x", version="1.0.0",
                 url=site.url + "/", signing_key=signing[0], certificate=signing[1])
    with pytest.raises(AppBuildFailed, match="stoker make-android-image"):
        builder.build(job)


@pytest.fixture
def site():
    served = Site()
    yield served
    served.close()


def test_a_manifest_gives_its_theme_colour_and_its_largest_sound_icon(site):
    site.page("/", b'<link rel="icon manifest" href="m.json"><meta name="theme-color" content="#111">')
    site.page("/m.json", json.dumps({"theme_color": "#ABC", "icons": [
        {"src": "small.png", "sizes": "48x48"}, {"src": "big.png", "sizes": "256x256 512x512"},
        {"src": "huge.png", "sizes": "4096x4096"}, {"src": "lying.png", "sizes": "1024x1024"},
        {"src": "icon.svg", "type": "image/svg+xml", "sizes": "any"}]}).encode(), "application/json")
    site.page("/small.png", png(48), "image/png")
    site.page("/big.png", png(256), "image/png")
    site.page("/huge.png", png(2048), "image/png")
    # A 1024 px header on a 1 px image's pixels.
    site.page("/lying.png", png(1)[:8] + png(1024)[8:33] + png(1)[33:], "image/png")
    found = read_web_app(site.url + "/", allow_private=True)
    assert found.theme_color == "#aabbcc"
    assert found.icon_png == png(256)


def test_icons_are_chosen_by_purpose_and_drawn_for_every_density(site):
    site.page("/", b'<link rel="manifest" href="m.json">')
    site.page("/m.json", json.dumps({"background_color": "#FFF", "icons": [
        {"src": "any.png", "sizes": "192x192"},
        {"src": "both.png", "sizes": "512x512", "purpose": "any maskable"},
        {"src": "mono.png", "sizes": "96x96", "purpose": "monochrome"}]}).encode(), "application/json")
    site.page("/any.png", png(192), "image/png")
    site.page("/both.png", png(512, colour=(200, 10, 10)), "image/png")
    site.page("/mono.png", png(96, colour=(0, 0, 0)), "image/png")
    found = read_web_app(site.url + "/", allow_private=True)
    assert (found.icon_png, found.maskable_png, found.monochrome_png) == (
        png(512, colour=(200, 10, 10)), png(512, colour=(200, 10, 10)), png(96, colour=(0, 0, 0)))
    assert found.background_color == "#ffffff"

    drawn = icons.android_icons(found.icon_png, found.maskable_png, found.monochrome_png, found.background_color)
    sides = {path: Image.open(io.BytesIO(data)).size[0] for path, data in drawn.items()}
    assert sides["mipmap-mdpi/ic_foreground.png"] == 108 and sides["mipmap-xxxhdpi/ic_foreground.png"] == 432
    assert sides["mipmap-hdpi/ic_launcher.png"] == 72 and sides["mipmap-xxhdpi/ic_monochrome.png"] == 324
    # The themed layer is a white silhouette; the maskable icon fills the foreground edge to edge.
    monochrome = Image.open(io.BytesIO(drawn["mipmap-mdpi/ic_monochrome.png"])).convert("RGBA")
    assert monochrome.getpixel((54, 54)) == (255, 255, 255, 255) and monochrome.getpixel((0, 0))[3] == 0
    foreground = Image.open(io.BytesIO(drawn["mipmap-mdpi/ic_foreground.png"])).convert("RGBA")
    assert foreground.getpixel((0, 0)) == foreground.getpixel((54, 54)) == (200, 10, 10, 255)
    # An `any` icon alone is inset inside the adaptive icon's safe zone, on a see-through layer.
    inset = icons.android_icons(png(192))
    layer = Image.open(io.BytesIO(inset["mipmap-mdpi/ic_foreground.png"])).convert("RGBA")
    assert layer.getpixel((0, 0))[3] == 0 and layer.getpixel((54, 54)) == (0x33, 0x66, 0x99, 255)
    assert "mipmap-mdpi/ic_monochrome.png" not in inset and icons.android_icons() == {}
    # The App Store icon is opaque, whatever the source.
    assert Image.open(io.BytesIO(icons.app_store_icon())).mode == "RGB"


def test_a_page_without_a_manifest_is_enough(site):
    site.page("/", b"<p>hello</p>")
    found = read_web_app(site.url + "/", allow_private=True)
    assert (found.final_url, found.theme_color, found.icon_png) == (site.url + "/", None, None)


def test_a_manifest_that_is_not_json_is_ignored_as_browsers_do(site):
    site.page("/", b'<link rel="manifest" href="/m.json"><meta name="theme-color" content="#123456">')
    site.page("/m.json", b"{not json", "application/json")
    assert read_web_app(site.url + "/", allow_private=True).theme_color == "#123456"


def test_redirects_are_followed_and_checked_at_every_hop(site):
    site.page("/", b"", status=302, Location="/app/")
    site.page("/app/", b"<p>app</p>")
    assert read_web_app(site.url + "/", allow_private=True).final_url == site.url + "/app/"

    site.page("/meta", b"", status=301, Location="http://169.254.169.254/latest/meta-data/")
    with pytest.raises(WebAppError, match="link-local"):
        read_web_app(site.url + "/meta", allow_private=True)
    site.page("/loop", b"", status=302, Location="/loop")
    with pytest.raises(WebAppError, match="more than 5 redirects"):
        read_web_app(site.url + "/loop", allow_private=True)


def test_a_host_that_drips_its_answer_meets_one_deadline_for_the_whole_web_app(site):
    """Each read is short, so only a deadline for the whole of it stops a host that sends a byte at a time."""
    site.page("/", b'<link rel="manifest" href="m.json">')
    site.page("/m.json", json.dumps({"icons": [{"src": "i.png", "sizes": "192x192"}]}).encode(), "application/json")
    site.page("/i.png", png(192), "image/png", drip=0.05)
    started = time.monotonic()
    with pytest.raises(WebAppError, match="took too long"):
        read_web_app(site.url + "/", allow_private=True, seconds=1.5)
    assert time.monotonic() - started < 4
    halt = threading.Event()
    halt.set()
    with pytest.raises(WebAppError, match="stopped"):
        read_web_app(site.url + "/", allow_private=True, halt=halt)


def test_a_page_too_large_or_failing_is_an_error_that_says_so(site):
    site.page("/big", b"x" * (3 * 1024 * 1024))
    with pytest.raises(WebAppError, match="larger than"):
        read_web_app(site.url + "/big", allow_private=True)
    site.page("/broken", b"oops", status=500)
    with pytest.raises(WebAppError, match="answered HTTP 500"):
        read_web_app(site.url + "/broken", allow_private=True)


def test_private_hosts_are_refused_at_fetch_time_unless_allowed(site):
    site.page("/", b"<p>hi</p>")
    with pytest.raises(ValueError, match="private or loopback"):
        check_app_url(site.url.replace("http:", "https:") + "/", allow_private=False)
    # A name that resolves to loopback is refused when it is looked up, not only by its spelling.
    with pytest.raises(WebAppError, match="resolves to a private or loopback address"):
        read_web_app(site.url.replace("127.0.0.1", "vm") + "/", allow_private=False)


def test_only_whole_pngs_of_a_sane_size_pass():
    assert is_sound_png(png(64))
    assert not is_sound_png(png(64)[:-12])
    assert not is_sound_png(b"GIF89a" + png(64)[6:])
    assert not is_sound_png(png(2048))
    # 16 px square, and 10 MB of pixels.
    assert not is_sound_png(png(16)[:33] + png(16, raw=bytes(10_000_000))[33:])
    corrupt = bytearray(png(64))
    corrupt[40] ^= 0xFF
    assert not is_sound_png(bytes(corrupt))
    # Pillow reads the first header: a 13000 px one, with a 16 px one after the pixels to pass a check
    # that read the last.
    big, small = png(13000, raw=b"")[8:33], png(16)
    assert not is_sound_png(small[:8] + big + small[33:-12] + small[8:33] + small[-12:])


def test_an_icon_pillow_cannot_read_or_not_square_is_drawn_or_left_out_never_a_failed_build():
    assert icons.android_icons(png(64)[:-30] + png(64)[-12:]) == {}
    wide = Image.new("RGB", (200, 100), (10, 200, 10))
    buffer = io.BytesIO()
    wide.save(buffer, "PNG")
    drawn = Image.open(io.BytesIO(icons.android_icons(buffer.getvalue())["mipmap-mdpi/ic_launcher.png"]))
    # 48 px wide, 24 high, in the middle of a see-through square: not stretched.
    assert drawn.size == (48, 48)
    assert drawn.convert("RGBA").getpixel((24, 24)) == (10, 200, 10, 255)
    assert drawn.convert("RGBA").getpixel((24, 4))[3] == 0
