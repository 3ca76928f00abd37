"""App icons from a web app manifest's icons, by purpose, drawn with Pillow.

Only PNGs that pipeline.mobile.webapp.is_sound_png passed come here, so each
decodes to at most MAX_ICON_SIDE pixels a side. Android gets an adaptive icon
(a `maskable` icon, or else an `any` one inset, as the foreground over the
background colour, and a `monochrome` one as the themed layer) and a legacy
icon per density; iOS gets the 1024 px App Store icon, opaque as Apple wants.
"""
import io

from PIL import Image, ImageOps

from .webapp import MAX_ICON_SIDE

# Past this Pillow refuses to decode at all, whatever a file's header claims.
Image.MAX_IMAGE_PIXELS = MAX_ICON_SIDE * MAX_ICON_SIDE

# Android's densities: the folder suffix and its scale from mdpi.
DENSITIES = (("mdpi", 1), ("hdpi", 1.5), ("xhdpi", 2), ("xxhdpi", 3), ("xxxhdpi", 4))
LEGACY_DP, LAYER_DP = 48, 108
# A maskable icon keeps what matters inside its middle 80 %; Android keeps a 66 dp circle of the
# 108 dp layer whatever the launcher's mask. So the maskable icon is drawn 66 / 0.8 dp wide.
MASKABLE_DP = 66 / 0.8
# An `any` icon (or a monochrome silhouette) drawn whole inside that 66 dp circle.
INSET_DP = 46
APP_STORE_SIDE = 1024
WHITE = "#ffffff"


def _open(png):
    """The PNG as RGBA, or None if Pillow cannot read it whole (the app then goes without it)."""
    try:
        image = Image.open(io.BytesIO(png))
        image.load()
        return image.convert("RGBA")
    except (OSError, ValueError, Image.DecompressionBombError):
        return None


def _png(image):
    buffer = io.BytesIO()
    image.save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


def _rgb(color):
    return tuple(int(color[i:i + 2], 16) for i in (1, 3, 5))


def _layer(icon, side, drawn, fill=(0, 0, 0, 0)):
    """`icon` scaled to fit `drawn` pixels a side (its proportions kept), centred on a `side` pixel
    square of `fill`."""
    layer = Image.new("RGBA", (side, side), fill)
    scaled = ImageOps.contain(icon, (drawn, drawn), Image.LANCZOS)
    layer.alpha_composite(scaled, ((side - scaled.width) // 2, (side - scaled.height) // 2))
    return layer


def _edge_color(icon):
    """The colour a full-bleed icon's corner shows: what the layer around it is filled with."""
    red, green, blue, alpha = icon.getpixel((0, 0))
    return (red, green, blue, 255) if alpha == 255 else None


def android_icons(any_png=None, maskable_png=None, monochrome_png=None, background=WHITE):
    """{path under res/: PNG bytes} for every density; empty without an icon.

    The adaptive icon's XML itself is written by AndroidSources; this makes its layers:
    mipmap-*/ic_foreground.png, mipmap-*/ic_monochrome.png (when the manifest has one) and
    mipmap-*/ic_launcher.png, the legacy icon.
    """
    maskable, plain = _open(maskable_png) if maskable_png else None, _open(any_png) if any_png else None
    icon = maskable or plain
    if icon is None:
        return {}
    maskable_png = maskable_png if maskable is not None else None
    files = {}
    # Around a maskable icon, the colour it bleeds to; around an `any` one, nothing (the background layer shows).
    fill = (_edge_color(icon) or _rgb(background or WHITE) + (255,)) if maskable_png else (0, 0, 0, 0)
    monochrome = _open(monochrome_png) if monochrome_png else None
    monochrome = _silhouette(monochrome) if monochrome is not None else None
    for suffix, scale in DENSITIES:
        layer = round(LAYER_DP * scale)
        drawn = round((MASKABLE_DP if maskable_png else INSET_DP) * scale)
        files[f"mipmap-{suffix}/ic_foreground.png"] = _png(_layer(icon, layer, drawn, fill))
        if monochrome is not None:
            files[f"mipmap-{suffix}/ic_monochrome.png"] = _png(_layer(monochrome, layer, round(INSET_DP * scale)))
        legacy = round(LEGACY_DP * scale)
        if maskable_png:
            # Cropped to its safe zone's square: a full-bleed icon as a square tile.
            legacy_icon = ImageOps.fit(icon, (round(legacy / 0.8),) * 2, Image.LANCZOS).crop(
                (round(legacy * 0.125),) * 2 + (round(legacy * 0.125) + legacy,) * 2)
        else:
            legacy_icon = _layer(icon, legacy, legacy)
        files[f"mipmap-{suffix}/ic_launcher.png"] = _png(legacy_icon)
    return files


def _silhouette(icon):
    """A monochrome icon as Android's themed layer takes it: its shape in white, by its alpha."""
    white = Image.new("RGBA", icon.size, (255, 255, 255, 0))
    white.putalpha(icon.getchannel("A"))
    return white


def app_store_icon(any_png=None, maskable_png=None, background=WHITE):
    """The 1024 px App Store icon: opaque (App Store Connect refuses an alpha channel), full-bleed
    (iOS rounds the corners itself). A maskable icon is already full-bleed; an `any` one is drawn
    inside the background colour; without either, the background colour alone, which App Store
    Connect takes but a user would rather replace."""
    fill = _rgb(background or WHITE) + (255,)
    maskable, plain = _open(maskable_png) if maskable_png else None, _open(any_png) if any_png else None
    if maskable is not None:
        icon, drawn = ImageOps.fit(maskable, (APP_STORE_SIDE, APP_STORE_SIDE), Image.LANCZOS), APP_STORE_SIDE
    elif plain is not None:
        icon, drawn = plain, round(APP_STORE_SIDE * 0.8)
    else:
        icon, drawn = Image.new("RGBA", (1, 1), fill), APP_STORE_SIDE
    square = _layer(icon, APP_STORE_SIDE, drawn, fill)
    return _png(square.convert("RGB"))
