"""An iOS app as an Xcode project archive: no iOS binary can be built on Linux, so Stoker
writes the project (one WKWebView on the start URL) and a Mac with Xcode builds it."""
import io
import json
import plistlib
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import semver

HERE = Path(__file__).resolve().parent
TARGET = "WebApp"
DEPLOYMENT_TARGET = "15.0"
START_URL_KEY = "StokerStartURL"

# The permissions a WKWebView page can use, and the Info.plist usage description each needs.
USAGE_KEYS = {
    "camera": ("NSCameraUsageDescription", "the camera"),
    "gps": ("NSLocationWhenInUseUsageDescription", "your location"),
    "microphone": ("NSMicrophoneUsageDescription", "the microphone"),
}
# Words the API takes for Android that give a WKWebView nothing: refused, saying why.
WITHOUT_USE = {
    "notifications": "a WKWebView has no Notification or Push API (iOS gives web push only to web apps "
                     "added to the home screen from Safari)",
    "storage": "a WKWebView's file chooser uses the system photo picker, which needs no permission",
    "contacts": "a WKWebView has no contacts API",
    "bluetooth": "a WKWebView has no Web Bluetooth",
    "vibrate": "a WKWebView has no Vibration API",
}

README = """# {name}

An Xcode project made by Stoker: a WKWebView app that opens {url}.
It is a project, not an .ipa: build it on a Mac with Xcode 15 or later.

1. Unzip this archive and open `{target}/{target}.xcodeproj`.
2. Select the {target} target, open Signing & Capabilities, and choose your team.
3. Product > Archive, then Distribute App.

From a terminal: `xcodebuild -project {target}.xcodeproj -scheme {target} -configuration Release
-destination generic/platform=iOS archive -archivePath build/{target}.xcarchive DEVELOPMENT_TEAM=<team id>`.
"""


# A pre-release App Store Connect can number: its stage, then a number.
PRERELEASE = re.compile(r"(alpha|beta|rc)\.([0-9]{1,2})")
STAGES = {"alpha": 1, "beta": 2, "rc": 3}


def build_number(version):
    """CFBundleVersion for a semver: at most three integers, higher for every higher version, so
    that each pre-release of one version uploads as a build of its own and the release above them:
    1.2.3-alpha.4 is 1.2.3104, -beta.1 1.2.3201, -rc.2 1.2.3302, and 1.2.3 itself 1.2.3999.
    ValueError for a pre-release of another form (see PRERELEASE)."""
    parsed = semver.Version.parse(version)
    if parsed.prerelease is None:
        rank = 999
    else:
        matched = PRERELEASE.fullmatch(parsed.prerelease)
        if matched is None:
            raise ValueError("an iOS pre-release must be alpha.N, beta.N or rc.N (N from 0 to 99): "
                             "App Store Connect numbers builds with integers alone")
        rank = STAGES[matched[1]] * 100 + int(matched[2])
    return f"{parsed.major}.{parsed.minor}.{parsed.patch * 1000 + rank}"


APP_ICON = "AppIcon-1024.png"


def _catalog_json(fields):
    """An asset catalog's Contents.json, as Xcode writes one."""
    return json.dumps({**fields, "info": {"author": "xcode", "version": 1}}, indent=2) + "\n"


def _quoted(value):
    """A string as a quoted value in an old-style property list (project.pbxproj)."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


@dataclass(frozen=True)
class XcodeProject:
    bundle_id: str
    name: str
    version: str
    start_url: str
    permissions: tuple = ()
    # The 1024 px App Store icon, opaque (see pipeline.mobile.icons.app_store_icon).
    icon_png: bytes | None = field(default=None, repr=False)

    @property
    def short_version(self):
        """CFBundleShortVersionString: three integers, as App Store Connect takes it."""
        parsed = semver.Version.parse(self.version)
        return f"{parsed.major}.{parsed.minor}.{parsed.patch}"

    @property
    def build_number(self):
        """CFBundleVersion: see build_number()."""
        return build_number(self.version)

    def _icon_entry(self):
        # One 1024 px icon for every size: Xcode 14 and later make the rest from it for iOS 12 on.
        entry = {"idiom": "universal", "platform": "ios", "size": "1024x1024"}
        return {"filename": APP_ICON, **entry} if self.icon_png else entry

    def info_plist(self):
        info = {
            "CFBundleDevelopmentRegion": "en",
            "CFBundleDisplayName": self.name,
            "CFBundleExecutable": "$(EXECUTABLE_NAME)",
            "CFBundleIdentifier": self.bundle_id,
            "CFBundleInfoDictionaryVersion": "6.0",
            "CFBundleName": TARGET,
            "CFBundlePackageType": "APPL",
            "CFBundleShortVersionString": self.short_version,
            "CFBundleVersion": self.build_number,
            "LSRequiresIPhoneOS": True,
            "UILaunchScreen": {},
            "UISupportedInterfaceOrientations": ["UIInterfaceOrientationPortrait",
                                                 "UIInterfaceOrientationLandscapeLeft",
                                                 "UIInterfaceOrientationLandscapeRight"],
            START_URL_KEY: self.start_url,
        }
        if self.start_url.startswith("http:"):
            info["NSAppTransportSecurity"] = {"NSAllowsArbitraryLoads": True}
        for permission in self.permissions:
            if permission in USAGE_KEYS:
                key, what = USAGE_KEYS[permission]
                info[key] = f"{self.name} uses {what} for features of its web app."
        return plistlib.dumps(info, sort_keys=True)

    def pbxproj(self):
        template = (HERE / "project.pbxproj.template").read_text()
        return (template.replace("@BUNDLE_ID@", _quoted(self.bundle_id))
                .replace("@VERSION@", _quoted(self.short_version))
                .replace("@BUILD@", _quoted(self.build_number))
                .replace("@TARGET@", TARGET)
                .replace("@DEPLOYMENT_TARGET@", DEPLOYMENT_TARGET))

    def archive(self):
        """The project as the bytes of a .zip, everything under one folder."""
        catalog = f"{TARGET}/Assets.xcassets"
        files = {
            "README.md": README.format(name=self.name, url=self.start_url, target=TARGET),
            f"{TARGET}.xcodeproj/project.pbxproj": self.pbxproj(),
            f"{TARGET}/Info.plist": self.info_plist(),
            f"{TARGET}/{TARGET}.swift": (HERE / "WebApp.swift").read_text(),
            f"{catalog}/Contents.json": _catalog_json({}),
            f"{catalog}/AppIcon.appiconset/Contents.json": _catalog_json({"images": [self._icon_entry()]}),
        }
        if self.icon_png:
            files[f"{catalog}/AppIcon.appiconset/{APP_ICON}"] = self.icon_png
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path, content in files.items():
                entry = zipfile.ZipInfo(f"{TARGET}/{path}", date_time=(2020, 1, 1, 0, 0, 0))
                entry.external_attr = 0o644 << 16
                archive.writestr(entry, content, zipfile.ZIP_DEFLATED)
        return buffer.getvalue()
