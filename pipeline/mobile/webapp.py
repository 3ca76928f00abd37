"""Reading a web app before it becomes a native app: is it there, and what does its manifest say.

Every request goes to an address checked by pipeline.hosts and to no other:
the connection is made to the checked address itself, with the name kept for
the Host header and TLS, so the name cannot be resolved again to somewhere
else. Redirects are followed by hand, each hop checked the same way, and
every body is read only up to a limit.
"""
import json
import re
import struct
import time
import zlib
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import urllib3

from ..hosts import UnsafeAddress, check_host, resolve

MAX_URL_LENGTH = 2048
MAX_REDIRECTS = 5
PAGE_BYTES = 2 * 1024 * 1024
MANIFEST_BYTES = 256 * 1024
ICON_BYTES = 1024 * 1024
MAX_ICON_SIDE = 1024
MAX_ICONS, MAX_ICON_TRIES = 100, 4
TIMEOUT = urllib3.Timeout(connect=5, read=10)
# For the page, its manifest and its icons together, however slowly a host drips them.
TOTAL_SECONDS = 60
USER_AGENT = "Stoker app builder"
THEME_COLOR = re.compile(r"#([0-9a-fA-F]{6}|[0-9a-fA-F]{3})")


class WebAppError(Exception):
    """The web app could not be read; the message says why, for the user."""


class OutOfTime(WebAppError):
    """Reading the web app ran past its deadline or was stopped: the build fails, never half-read."""


def check_app_url(url, allow_private):
    """Return the URL if an app may be built for it, else raise ValueError saying why.

    Only https:// is accepted, and only public hosts, unless `allow_private`
    (then http:// and private and loopback hosts are accepted too). Link-local
    hosts are refused either way.
    """
    if not isinstance(url, str) or not url:
        raise ValueError("url must be a non-empty string")
    if len(url) > MAX_URL_LENGTH:
        raise ValueError(f"url must be at most {MAX_URL_LENGTH} characters")
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F or ch == "\\" for ch in url):
        raise ValueError("url must not contain spaces, backslashes or control characters")
    schemes = ("https", "http") if allow_private else ("https",)
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018  (raises ValueError on a bad port)
    except ValueError:
        raise ValueError("url is not a valid URL") from None
    if parts.scheme not in schemes or not url.startswith(f"{parts.scheme}://"):
        raise ValueError("url must be an https:// URL" if not allow_private else "url must be an http(s):// URL")
    if parts.username is not None or parts.password is not None:
        raise ValueError("url must not carry a user name or password")
    if not host:
        raise ValueError("url has no host")
    check_host(host, allow_private, "url")
    return url


@dataclass(frozen=True)
class WebApp:
    """What the web app says about itself; every field is optional but the URL it ended at."""

    final_url: str
    theme_color: str | None = None
    background_color: str | None = None
    # The manifest's icons by purpose: the largest sound PNG of each (see is_sound_png).
    icon_png: bytes | None = field(default=None, repr=False)
    maskable_png: bytes | None = field(default=None, repr=False)
    monochrome_png: bytes | None = field(default=None, repr=False)


class Fetcher:
    def __init__(self, allow_private, seconds=TOTAL_SECONDS, halt=None):
        self.allow_private = allow_private
        self.deadline = time.monotonic() + seconds
        self.halt = halt

    def _check_time(self, url):
        if self.halt is not None and self.halt.is_set():
            raise OutOfTime("stopped while reading the web app")
        if time.monotonic() > self.deadline:
            raise OutOfTime(f"reading the web app took too long (at {url})")

    def get(self, url, max_bytes, accept="*/*"):
        """GET `url`, following redirects; return (final url, content type, body)."""
        for _ in range(MAX_REDIRECTS + 1):
            self._check_time(url)
            response = self._request(url, accept)
            try:
                if response.status in (301, 302, 303, 307, 308) and response.headers.get("Location"):
                    url = urljoin(url, response.headers["Location"])
                    try:
                        check_app_url(url, self.allow_private)
                    except ValueError as exc:
                        raise WebAppError(f"{url} redirects somewhere Stoker may not go: {exc}") from None
                    continue
                if not 200 <= response.status < 300:
                    raise WebAppError(f"{url} answered HTTP {response.status}")
                return url, response.headers.get("Content-Type", ""), self._read(response, url, max_bytes)
            finally:
                response.release_conn()
        raise WebAppError(f"{url}: more than {MAX_REDIRECTS} redirects")

    def _request(self, url, accept):
        parts = urlsplit(url)
        https = parts.scheme == "https"
        port = parts.port or (443 if https else 80)
        try:
            addresses = resolve(parts.hostname, port, self.allow_private, "url")
        except UnsafeAddress as exc:
            raise WebAppError(str(exc)) from None
        except OSError:
            raise WebAppError(f"url could not be reached: the host {parts.hostname} does not resolve") from None
        address = str(addresses[0])
        options = {"server_hostname": parts.hostname, "assert_hostname": parts.hostname} if https else {}
        pool_class = urllib3.HTTPSConnectionPool if https else urllib3.HTTPConnectionPool
        pool = pool_class(address, port, timeout=TIMEOUT, retries=False, maxsize=1, **options)
        path = parts.path or "/"
        if parts.query:
            path += f"?{parts.query}"
        try:
            return pool.urlopen("GET", path, redirect=False, preload_content=False, headers={
                "Host": parts.netloc.rpartition("@")[2], "User-Agent": USER_AGENT, "Accept": accept,
            })
        except urllib3.exceptions.HTTPError as exc:
            raise WebAppError(f"url could not be reached: {url} ({_reason(exc)})") from None

    def _read(self, response, url, max_bytes):
        body = bytearray()
        try:
            # read1: whatever has come, so a host that drips a byte at a time meets the deadline.
            while chunk := response.read1(64 * 1024):
                self._check_time(url)
                body += chunk
                if len(body) > max_bytes:
                    raise WebAppError(f"{url} is larger than {max_bytes // 1024} KB")
        except urllib3.exceptions.HTTPError as exc:
            raise WebAppError(f"url could not be read: {url} ({_reason(exc)})") from None
        return bytes(body)


# How a failed connection reads to a user, whichever way the socket layer spelt it.
REASONS = (
    (("connection refused", "econnrefused"), "connection refused"),
    (("timed out", "etimedout"), "timed out"),
    (("no route to host", "ehostunreach", "enetunreach", "network is unreachable"), "no route to host"),
    (("certificate verify failed",), "its TLS certificate did not verify"),
    (("connection reset", "econnreset"), "connection reset"),
)


def _reason(exc):
    text = str(getattr(exc, "reason", None) or exc)
    for spellings, reason in REASONS:
        if any(spelling in text.lower() for spelling in spellings):
            return reason
    return text.rsplit(": ", 1)[-1][:200]


class _Head(HTMLParser):
    """Collects the page's <link rel="manifest"> and <meta name="theme-color">."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.manifest = None
        self.theme_color = None

    def handle_starttag(self, tag, attrs):
        attrs = {name: value or "" for name, value in attrs}
        if tag == "link" and "manifest" in attrs.get("rel", "").lower().split() and self.manifest is None:
            self.manifest = attrs.get("href") or None
        elif tag == "meta" and attrs.get("name", "").lower() == "theme-color" and self.theme_color is None:
            self.theme_color = attrs.get("content")


def read_web_app(url, allow_private, seconds=TOTAL_SECONDS, halt=None):
    """Fetch the page (it must answer 2xx) and, when it links one, its manifest and icons, all within
    `seconds` (and no further once `halt` is set)."""
    fetcher = Fetcher(allow_private, seconds, halt)
    final_url, content_type, body = fetcher.get(url, PAGE_BYTES, accept="text/html,*/*;q=0.5")
    head = _Head()
    if "html" in content_type.lower() or not content_type:
        head.feed(body.decode("utf-8", errors="replace"))
    manifest_url = urljoin(final_url, head.manifest or "")
    manifest = _manifest(fetcher, manifest_url) if head.manifest else {}
    icons = manifest.get("icons")
    return WebApp(
        final_url=final_url,
        theme_color=_color(manifest.get("theme_color")) or _color(head.theme_color),
        background_color=_color(manifest.get("background_color")),
        icon_png=_icon(fetcher, manifest_url, icons, "any"),
        maskable_png=_icon(fetcher, manifest_url, icons, "maskable"),
        monochrome_png=_icon(fetcher, manifest_url, icons, "monochrome"),
    )


def _manifest(fetcher, url):
    """The web app manifest as a dict; a manifest that cannot be read is ignored, as browsers do."""
    try:
        check_app_url(url, fetcher.allow_private)
        _, _, body = fetcher.get(url, MANIFEST_BYTES, accept="application/manifest+json,application/json")
        manifest = json.loads(body.decode("utf-8-sig"))
    except OutOfTime:
        raise
    except (ValueError, WebAppError):
        return {}
    return manifest if isinstance(manifest, dict) else {}


def _color(value):
    if not isinstance(value, str) or not THEME_COLOR.fullmatch(value.strip()):
        return None
    digits = value.strip()[1:]
    if len(digits) == 3:
        digits = "".join(ch * 2 for ch in digits)
    return f"#{digits.lower()}"


def _icon(fetcher, manifest_url, icons, purpose):
    """The largest PNG icon of the manifest for `purpose` (any, maskable or monochrome; an icon
    that names none is for any) up to MAX_ICON_SIDE that really is a PNG, or None."""
    if not isinstance(icons, list):
        return None
    candidates = []
    for icon in icons[:MAX_ICONS]:
        if not isinstance(icon, dict) or not isinstance(icon.get("src"), str):
            continue
        purposes = str(icon.get("purpose") or "any").lower().split()
        if purpose not in purposes:
            continue
        if icon.get("type", "image/png") != "image/png" and not icon["src"].lower().endswith(".png"):
            continue
        sides = [int(size.partition("x")[0]) for size in str(icon.get("sizes", "")).lower().split()
                 if re.fullmatch(r"\d{1,4}x\d{1,4}", size)]
        side = max((s for s in sides if s <= MAX_ICON_SIDE), default=0)
        candidates.append((side, icon["src"]))
    # Fetched one after another until one is sound, a few at most: each is a request to a stranger's host.
    for _, src in sorted(candidates, reverse=True)[:MAX_ICON_TRIES]:
        try:
            url = check_app_url(urljoin(manifest_url, src), fetcher.allow_private)
            _, _, body = fetcher.get(url, ICON_BYTES, accept="image/png")
        except OutOfTime:
            raise
        except (ValueError, WebAppError):
            continue
        if is_sound_png(body):
            return body
    return None


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def is_sound_png(data, max_side=MAX_ICON_SIDE):
    """True if `data` is a whole PNG whose chunks check out and whose pixels inflate to exactly
    the image's size: aapt is never handed a broken, lying or decompression-bomb icon."""
    if not data.startswith(PNG_SIGNATURE):
        return False
    position, compressed, header, ended = len(PNG_SIGNATURE), [], None, False
    while position + 12 <= len(data) and not ended:
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        body = data[position + 8:position + 8 + length]
        crc = data[position + 8 + length:position + 12 + length]
        if len(body) != length or len(crc) != 4 or zlib.crc32(kind + body) != struct.unpack(">I", crc)[0]:
            return False
        if (kind == b"IHDR") != (header is None and position == len(PNG_SIGNATURE)):
            return False  # one header, first, as decoders read it (a second could lie about the size)
        if kind == b"IHDR":
            if length != 13:
                return False
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            compressed.append(body)
        ended = kind == b"IEND"
        position += 12 + length
    if not (ended and header and compressed):
        return False
    width, height, depth, colour, _, _, interlace = header
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}.get(colour)
    if channels is None or depth not in (1, 2, 4, 8, 16) or not (0 < width <= max_side and 0 < height <= max_side):
        return False
    expected = _pixel_bytes(width, height, depth * channels, interlace)
    inflater = zlib.decompressobj()
    try:
        pixels = inflater.decompress(b"".join(compressed), expected + 1)
    except zlib.error:
        return False
    return len(pixels) == expected and inflater.eof


# Adam7's seven passes: (first column, first row, column step, row step).
ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))


def _pixel_bytes(width, height, bits_per_pixel, interlace):
    """How many bytes a PNG's pixels inflate to: each row's bytes and its filter byte, per pass."""
    passes = ADAM7 if interlace else ((0, 0, 1, 1),)
    total = 0
    for x0, y0, dx, dy in passes:
        columns, rows = -(-(width - x0) // dx), -(-(height - y0) // dy)
        if columns > 0 and rows > 0:
            total += rows * (1 + -(-columns * bits_per_pixel // 8))
    return total
