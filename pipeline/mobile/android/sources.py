"""The files of one Android app: its manifest and resources, from plain values.

Every app shares one dex (shell/*.smali, assembled into the builder image);
what differs between apps is only what is written here. Nothing here runs a
tool: `build-apk`, inside the builder image, packages and signs these files.
"""
import re
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import semver

SHELL_ACTIVITY = "dev.stoker.shell.MainActivity"
START_URL_KEY = "stoker.START_URL"
MIN_SDK, TARGET_SDK = 21, 29

# What each permission the API accepts asks Android for; INTERNET is always asked for.
ANDROID_PERMISSIONS = {
    "camera": ("CAMERA",),
    "gps": ("ACCESS_FINE_LOCATION", "ACCESS_COARSE_LOCATION"),
    "microphone": ("RECORD_AUDIO", "MODIFY_AUDIO_SETTINGS"),
    "notifications": ("POST_NOTIFICATIONS",),
    "storage": ("READ_EXTERNAL_STORAGE", "WRITE_EXTERNAL_STORAGE"),
    "contacts": ("READ_CONTACTS",),
    "bluetooth": ("BLUETOOTH", "BLUETOOTH_ADMIN", "BLUETOOTH_CONNECT"),
    "vibrate": ("VIBRATE",),
}

THEME_COLOR = re.compile(r"#[0-9a-fA-F]{6}")

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


@dataclass(frozen=True)
class AndroidSources:
    bundle_id: str
    name: str
    version: str
    start_url: str
    permissions: tuple = ()
    theme_color: str | None = None
    icon_png: bytes | None = field(default=None, repr=False)

    def uses_permissions(self):
        names = ["INTERNET"]
        for permission in self.permissions:
            names += [name for name in ANDROID_PERMISSIONS[permission] if name not in names]
        return [f"android.permission.{name}" for name in names]

    def manifest(self):
        cleartext = ' android:usesCleartextTraffic="true"' if self.start_url.startswith("http:") else ""
        icon = "@mipmap/icon" if self.icon_png else "@android:drawable/sym_def_app_icon"
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
        <activity android:name="{SHELL_ACTIVITY}" android:exported="true"
            android:configChanges="orientation|screenSize|screenLayout|smallestScreenSize|keyboardHidden">
            <intent-filter>
                <action android:name="android.intent.action.MAIN"/>
                <category android:name="android.intent.category.LAUNCHER"/>
            </intent-filter>
        </activity>
    </application>
</manifest>
"""

    def strings(self):
        return ('<?xml version="1.0" encoding="utf-8"?>\n<resources>\n'
                f'    <string name="app_name" formatted="false">{aapt_string(self.name)}</string>\n</resources>\n')

    def styles(self):
        items = ""
        if self.theme_color:
            items = "".join(f'\n        <item name="android:{name}">{self.theme_color}</item>'
                            for name in ("colorPrimary", "colorPrimaryDark", "statusBarColor"))
        return ('<?xml version="1.0" encoding="utf-8"?>\n<resources>\n'
                '    <style name="Shell" parent="@android:style/Theme.Material.Light.NoActionBar">'
                f'{items}\n    </style>\n</resources>\n')

    def write(self, folder):
        """Write AndroidManifest.xml and res/ into `folder`, ready for build-apk."""
        folder = Path(folder)
        (folder / "res" / "values").mkdir(parents=True)
        (folder / "AndroidManifest.xml").write_text(self.manifest(), encoding="utf-8")
        (folder / "res" / "values" / "strings.xml").write_text(self.strings(), encoding="utf-8")
        (folder / "res" / "values" / "styles.xml").write_text(self.styles(), encoding="utf-8")
        if self.icon_png:
            (folder / "res" / "mipmap").mkdir()
            (folder / "res" / "mipmap" / "icon.png").write_bytes(self.icon_png)
