"""Web apps for app builds to package: real PNGs, a page with a manifest and icons, served on
loopback, and a name that tries every way to break out of where it is written."""
import json
import struct
import zlib

from .http import Site

# An app's name with quotes, markup, a backslash, an emoji and doubled spaces.
HOSTILE_NAME = "Tom's \"Café\" & <Co> \\ 🔥  @home"


def png(side, colour=(0x33, 0x66, 0x99), raw=None):
    """A real PNG of one colour, `side` pixels square (or with `raw` as its pixel data)."""
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    rows = raw if raw is not None else b"".join(b"\x00" + bytes(colour) * side for _ in range(side))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


# A web app: a page linking a manifest with theme and background colours, a PNG icon and a broken
# bigger one, a maskable icon and a monochrome one.
WEB_APP_PAGES = {
    "/": ("text/html", b'<!doctype html><html><head><title>Demo</title>'
                       b'<link rel="manifest" href="/app.webmanifest">'
                       b'<meta name="theme-color" content="#000000"></head><body>Hi</body></html>'),
    "/app.webmanifest": ("application/manifest+json", json.dumps({
        "name": "Demo", "theme_color": "#336699", "background_color": "#fafafa",
        "icons": [{"src": "/icon-192.png", "sizes": "192x192", "type": "image/png"},
                  {"src": "/broken.png", "sizes": "512x512", "type": "image/png"},
                  {"src": "/maskable.png", "sizes": "512x512", "type": "image/png", "purpose": "maskable"},
                  {"src": "/mono.png", "sizes": "96x96", "type": "image/png", "purpose": "monochrome"}]}).encode()),
    "/icon-192.png": ("image/png", png(192)),
    "/broken.png": ("image/png", png(512)[:200]),
    "/maskable.png": ("image/png", png(512, colour=(0xCC, 0x33, 0x00))),
    "/mono.png": ("image/png", png(96, colour=(0, 0, 0))),
}


def serve_web_app():
    """The web app above, on 127.0.0.1 (the caller closes it)."""
    site = Site()
    for path, (content_type, body) in WEB_APP_PAGES.items():
        site.page(path, body, content_type)
    # The start URL in the tests carries a query string.
    site.page("/?from=app&x=1", WEB_APP_PAGES["/"][1])
    return site
