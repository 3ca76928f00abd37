"""The files of one Android app: its manifest and resources, from plain values.

Every app shares one dex (shell/*.smali, assembled into the builder image);
what differs between apps is only what is written here. Nothing here runs a
tool: `build-app`, inside the builder image, packages and signs these files
as an App Bundle for the store and a universal APK to try.
"""
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import semver

SHELL_ACTIVITY = "dev.stoker.shell.MainActivity"
START_URL_KEY = "stoker.START_URL"
LINK_DOMAINS_KEY = "stoker.LINK_DOMAINS"
CAPTURE_KEY = "stoker.CAPTURE"
SHOTS_PROVIDER = "dev.stoker.shell.Shots"
# Google Play's floor for new apps and updates is targetSdk 36 (August 2026). 23 is the first
# Android with runtime permissions, which the shell asks for as the page needs them.
MIN_SDK, TARGET_SDK = 23, 36
# The bundletool release whose bundle format BundleConfig.pb declares.
BUNDLETOOL_VERSION = "1.9.0"

# What each permission the API accepts asks Android for; INTERNET is always asked for. The
# shell asks for each at run time when the page first wants it (see shell/Chrome.smali).
ANDROID_PERMISSIONS = {
    "camera": ("CAMERA",),
    "gps": ("ACCESS_FINE_LOCATION", "ACCESS_COARSE_LOCATION"),
    "microphone": ("RECORD_AUDIO", "MODIFY_AUDIO_SETTINGS"),
    "vibrate": ("VIBRATE",),
}
# Words the API once took that give a WebView app nothing: refused, saying why.
WITHOUT_USE = {
    "notifications": "a WebView has no Notification or Push API, so an app made from a web app cannot show "
                     "notifications; the permission would be asked for and do nothing",
    "storage": "a WebView's file chooser and downloads need no storage permission on Android 10 and later, and "
               "targetSdk 36 gives the old storage permissions nothing",
    "contacts": "a WebView has no contacts API",
    "bluetooth": "Android's WebView has no Web Bluetooth",
}

# versionCode = ((major * 1000 + minor) * 1000 + patch) * 10 + (9 for a release, 0 for a
# pre-release), under Google Play's ceiling of 2,100,000,000.
MAX_MAJOR, MAX_PART = 209, 999


def version_code(version):
    """Android's versionCode for a semver string: never lower for a higher version.

    A release counts above its pre-releases (1.0.0-rc.1 < 1.0.0); two
    pre-releases of one version share a code, which Android installs over
    each other. Raises ValueError for versions the scheme cannot number.
    """
    parsed = semver.Version.parse(version)
    if parsed.major > MAX_MAJOR or parsed.minor > MAX_PART or parsed.patch > MAX_PART:
        raise ValueError(f"an Android version must be at most {MAX_MAJOR}.{MAX_PART}.{MAX_PART}")
    release = 0 if parsed.prerelease else 9
    return ((parsed.major * 1000 + parsed.minor) * 1000 + parsed.patch) * 10 + release


def aapt_string(text):
    """`text` as the body of a <string> resource that aapt reads back exactly.

    Inside double quotes aapt keeps whitespace and apostrophes as they are; only
    backslash and the double quote need escaping, and a leading @ or ? (which
    would make it a reference) is escaped too. Then it is escaped for XML. (The
    resource is marked formatted="false", so a % is only a percent sign.)
    """
    body = text.replace("\\", "\\\\").replace('"', '\\"')
    if body.startswith(("@", "?")):
        body = "\\" + body
    return escape(f'"{body}"')


def _varint(number):
    out = bytearray()
    while True:
        out.append((number & 0x7F) | (0x80 if number > 0x7F else 0))
        number >>= 7
        if not number:
            return bytes(out)


def _field(number, payload):
    """One length-delimited protobuf field."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def bundle_config(version=BUNDLETOOL_VERSION):
    """BundleConfig.pb: `BundleConfig { bundletool { version } }` in protobuf's wire format, which is all
    bundletool needs from a bundle made without it (config.proto: bundletool = 1, version = 2)."""
    return _field(1, _field(2, version.encode()))


@dataclass(frozen=True)
class AndroidSources:
    bundle_id: str
    name: str
    version: str
    start_url: str
    permissions: tuple = ()
    theme_color: str | None = None
    background_color: str | None = None
    # {path under res/: PNG}, from pipeline.mobile.icons.android_icons.
    icons: dict = field(default_factory=dict, repr=False)
    # Hosts whose https links open in the app once verified by their assetlinks.json.
    link_domains: tuple = ()

    def uses_permissions(self):
        names = ["INTERNET"]
        for permission in self.permissions:
            names += [name for name in ANDROID_PERMISSIONS[permission] if name not in names]
        return [f"android.permission.{name}" for name in names]

    def links(self):
        """The activity's verified App Links: https on each of `link_domains`."""
        if not self.link_domains:
            return ""
        hosts = "".join(f"\n                <data android:host={quoteattr(host)}/>" for host in self.link_domains)
        return f"""
            <intent-filter android:autoVerify="true">
                <action android:name="android.intent.action.VIEW"/>
                <category android:name="android.intent.category.DEFAULT"/>
                <category android:name="android.intent.category.BROWSABLE"/>
                <data android:scheme="https"/>{hosts}
            </intent-filter>"""

    def capture(self):
        """With the camera asked for, the file chooser offers it: the photo is written through a
        provider of the app's own, by a grant of that one file (see shell/Shots.smali)."""
        if "camera" not in self.permissions:
            return ""
        return f"""
        <meta-data android:name="{CAPTURE_KEY}" android:value="true"/>
        <provider android:name="{SHOTS_PROVIDER}" android:authorities={quoteattr(self.bundle_id + ".shots")}
            android:exported="false" android:grantUriPermissions="true"/>"""

    def manifest(self):
        cleartext = ' android:usesCleartextTraffic="true"' if self.start_url.startswith("http:") else ""
        icon = "@mipmap/ic_launcher" if self.icons else "@android:drawable/sym_def_app_icon"
        permissions = "".join(f"\n    <uses-permission android:name={quoteattr(name)}/>"
                              for name in self.uses_permissions())
        return f"""<?xml version="1.0" encoding="utf-8"?>
<manifest xmlns:android="http://schemas.android.com/apk/res/android"
    package={quoteattr(self.bundle_id)}
    android:versionCode="{version_code(self.version)}"
    android:versionName={quoteattr(self.version)}>
    <uses-sdk android:minSdkVersion="{MIN_SDK}" android:targetSdkVersion="{TARGET_SDK}"/>{permissions}
    <application android:label="@string/app_name" android:icon="{icon}"
        android:theme="@style/Shell" android:allowBackup="false"{cleartext}>
        <meta-data android:name="{START_URL_KEY}" android:value={quoteattr(self.start_url)}/>
        <meta-data android:name="{LINK_DOMAINS_KEY}" android:value={quoteattr(",".join(self.link_domains))}/>{self.capture()}
        <activity android:name="{SHELL_ACTIVITY}" android:exported="true"
            android:configChanges="orientation|screenSize|screenLayout|smallestScreenSize|keyboardHidden">
            <intent-filter>
                <action android:name="android.intent.action.MAIN"/>
                <category android:name="android.intent.category.LAUNCHER"/>
            </intent-filter>{self.links()}
        </activity>
    </application>
</manifest>
"""

    def strings(self):
        return ('<?xml version="1.0" encoding="utf-8"?>\n<resources>\n'
                f'    <string name="app_name" formatted="false">{aapt_string(self.name)}</string>\n</resources>\n')

    def colors(self):
        """The bars' and the launch window's colours: the manifest's background_color behind the page
        while it loads (Android's launch screen shows the window background), theme_color for the bars."""
        background = self.background_color or "#ffffff"
        return ('<?xml version="1.0" encoding="utf-8"?>\n<resources>\n'
                f'    <color name="window">{background}</color>\n'
                f'    <color name="bars">{self.theme_color or background}</color>\n</resources>\n')

    def styles(self):
        # colorPrimaryDark tints the status bar before edge-to-edge; from targetSdk 35 the bars are
        # see-through and the window background (the theme colour's frame, see MainActivity) shows.
        items = "".join(f'\n        <item name="android:{name}">@color/bars</item>'
                        for name in ("colorPrimary", "colorPrimaryDark", "statusBarColor", "navigationBarColor"))
        return ('<?xml version="1.0" encoding="utf-8"?>\n<resources>\n'
                '    <style name="Shell" parent="@android:style/Theme.Material.Light.NoActionBar">'
                f'{items}\n        <item name="android:windowBackground">@color/window</item>'
                '\n    </style>\n</resources>\n')

    def adaptive_icon(self):
        monochrome = ('\n    <monochrome android:drawable="@mipmap/ic_monochrome"/>'
                      if any(path.endswith("ic_monochrome.png") for path in self.icons) else "")
        return ('<?xml version="1.0" encoding="utf-8"?>\n'
                '<adaptive-icon xmlns:android="http://schemas.android.com/apk/res/android">\n'
                '    <background android:drawable="@color/icon_background"/>\n'
                f'    <foreground android:drawable="@mipmap/ic_foreground"/>{monochrome}\n</adaptive-icon>\n')

    def write(self, folder):
        """Write AndroidManifest.xml, BundleConfig.pb and res/ into `folder`, ready for build-app."""
        folder = Path(folder)
        res = folder / "res"
        (res / "values").mkdir(parents=True)
        (folder / "AndroidManifest.xml").write_text(self.manifest(), encoding="utf-8")
        (folder / "BundleConfig.pb").write_bytes(bundle_config())
        (res / "values" / "strings.xml").write_text(self.strings(), encoding="utf-8")
        (res / "values" / "styles.xml").write_text(self.styles(), encoding="utf-8")
        colors = self.colors()
        if self.icons:
            colors = colors.replace("</resources>", f'    <color name="icon_background">'
                                                    f'{self.background_color or "#ffffff"}</color>\n</resources>')
            (res / "mipmap-anydpi-v26").mkdir()
            (res / "mipmap-anydpi-v26" / "ic_launcher.xml").write_text(self.adaptive_icon(), encoding="utf-8")
            for path, png in self.icons.items():
                (res / path).parent.mkdir(exist_ok=True)
                (res / path).write_bytes(png)
        (res / "values" / "colors.xml").write_text(colors, encoding="utf-8")
