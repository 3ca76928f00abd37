"""API v1 app builds: every refusal names its field, and nothing is written when one happens.
(The builds themselves, end to end, are in test_app_builds.)"""
import time

import pytest

from app.records import links
from app.records.models import AppArtifact, AppBuild, AppBuildStatus, AppBundle, utcnow

GOOD = {"url": "https://example.com/app", "name": "Demo", "bundleId": "com.example.demo", "version": "1.0.0",
        "platform": "android"}


def post(client, headers, **fields):
    return client.post("/api/v1/builds", headers=headers, json={**GOOD, **fields})


@pytest.mark.parametrize("fields, field", [
    ({"url": "http://example.com/"}, "url"),
    ({"url": "https://127.0.0.1/"}, "url"),
    ({"url": "https://localhost:8443/"}, "url"),
    ({"url": "https://10.1.2.3/app"}, "url"),
    ({"url": "https://169.254.169.254/latest/meta-data"}, "url"),
    ({"url": "https://[::1]/"}, "url"),
    ({"url": "https://user:pw@example.com/"}, "url"),
    ({"url": "ftp://example.com/"}, "url"),
    ({"url": "javascript:alert(1)"}, "url"),
    ({"url": "https://exa mple.com/"}, "url"),
    ({"url": 42}, "url"),
    ({"name": ""}, "name"),
    ({"name": "   "}, "name"),
    ({"name": "x" * 51}, "name"),
    ({"name": "line\nbreak"}, "name"),
    ({"name": "nul\x00"}, "name"),
    ({"name": ["Demo"]}, "name"),
    ({"bundleId": "myapp"}, "bundleId"),
    ({"bundleId": "com..example"}, "bundleId"),
    ({"bundleId": "com.1example"}, "bundleId"),
    ({"bundleId": "com.example-app"}, "bundleId"),
    ({"bundleId": "com.example."}, "bundleId"),
    ({"bundleId": "_com.example"}, "bundleId"),
    ({"version": "1.0"}, "version"),
    ({"version": "v1.0.0"}, "version"),
    ({"version": "01.0.0"}, "version"),
    ({"version": "1.0.0.0"}, "version"),
    ({"version": "1000.0.0"}, "version"),
    ({"version": "1.1000.0"}, "version"),
    ({"version": 1}, "version"),
    ({"permissions": "camera"}, "permissions"),
    ({"permissions": [1]}, "permissions"),
    ({"platform": "ios", "bundleId": "com.example.my_app"}, "bundleId"),
    ({"platform": "ios", "version": "1.0.0-preview"}, "version"),
    ({"platform": "ios", "version": "1.0.0-beta.100"}, "version"),
    ({"platform": "windows"}, "platform"),
    ({"platform": None}, "platform"),
    ({"format": "zip"}, "format"),
    ({"format": ["aab"]}, "format"),
    ({"platform": "ios", "format": "aab"}, "format"),
    ({"linkDomains": "example.com"}, "linkDomains"),
    ({"linkDomains": ["https://example.com"]}, "linkDomains"),
    ({"linkDomains": ["example.com:443"]}, "linkDomains"),
    ({"linkDomains": ["127.0.0.1"]}, "linkDomains"),
    ({"linkDomains": ["Example.com"]}, "linkDomains"),
    ({"linkDomains": ["a.example.com"] * 21}, "linkDomains"),
    ({"platform": "ios", "linkDomains": ["example.com"]}, "linkDomains"),
])
def test_a_bad_field_is_a_400_naming_it_and_nothing_is_written(client, accounts, fields, field):
    response = post(client, accounts.headers(), **fields)
    assert response.status_code == 400, response.get_json()
    assert response.get_json()["message"].startswith(field)
    assert AppBuild.select().count() == 0 and AppBundle.select().count() == 0


def test_an_unknown_permission_is_a_400_listing_the_accepted_ones(client, accounts):
    for platform, accepted in (("android", "camera, gps, microphone, vibrate"), ("ios", "camera, gps, microphone")):
        response = post(client, accounts.headers(), platform=platform, permissions=["camera", "telepathy"])
        assert response.status_code == 400
        message = response.get_json()["message"]
        assert "telepathy" in message and message.endswith(f"accepted on {platform}: {accepted}")


@pytest.mark.parametrize("platform, permission, why", [
    ("android", "notifications", "no Notification or Push API"),
    ("ios", "notifications", "no Notification or Push API"),
    ("android", "storage", "need no storage permission"),
    ("android", "contacts", "no contacts API"),
    ("android", "bluetooth", "no Web Bluetooth"),
    ("ios", "vibrate", "no Vibration API"),
])
def test_a_permission_that_would_do_nothing_is_refused_saying_why(client, accounts, platform, permission, why):
    response = post(client, accounts.headers(), platform=platform, permissions=["camera", permission])
    assert response.status_code == 400
    message = response.get_json()["message"]
    assert message.startswith(f"permissions: '{permission}' is not taken on {platform}") and why in message
    assert AppBuild.select().count() == 0


def test_a_queued_build_is_answered_in_full(client, accounts):
    response = post(client, accounts.headers(), name="Tom's \"Café\" & <Co> 🔥", permissions=["gps", "camera", "gps"],
                    version="1.0.0-rc.1+build.7")
    assert response.status_code == 201
    build = response.get_json()
    assert build == {
        "id": build["id"], "status": "queued", "platform": "android", "artifact": "aab", "format": "aab",
        "name": "Tom's \"Café\" & <Co> 🔥", "bundleId": "com.example.demo", "version": "1.0.0-rc.1+build.7",
        "url": "https://example.com/app", "permissions": ["camera", "gps"], "linkDomains": [],
        "createdAt": build["createdAt"],
    }
    assert len(build["id"]) == 36 and not build["id"].isdecimal()
    assert client.get(f"/api/v1/builds/{build['id']}", headers=accounts.headers()).get_json() == build


def test_private_urls_are_accepted_only_when_the_server_allows_them(app, client, accounts):
    app.config["STOKER_ALLOW_PRIVATE_APP_URLS"] = True
    assert post(client, accounts.headers(), url="http://127.0.0.1:8000/").status_code == 201
    # Link-local (cloud metadata) never is.
    response = post(client, accounts.headers(), url="http://169.254.169.254/", version="2.0.0")
    assert response.status_code == 400 and response.get_json()["message"].startswith("url")


@pytest.mark.both_databases
def test_a_version_must_be_higher_than_the_previous_build_of_the_bundle(client, accounts):
    alice = accounts.headers()
    assert post(client, alice, version="1.2.0").status_code == 201
    for version in ("1.2.0", "1.1.9", "1.2.0-rc.1", "0.9.0"):
        response = post(client, alice, version=version)
        assert response.status_code == 409, version
        assert "1.2.0" in response.get_json()["message"]
    assert post(client, alice, version="1.2.1-beta").status_code == 201
    assert post(client, alice, version="1.2.1").status_code == 201
    # Versions count per bundle id and platform.
    assert post(client, alice, version="0.1.0", bundleId="com.example.other").status_code == 201
    assert post(client, alice, version="0.1.0", platform="ios").status_code == 201
    assert AppBuild.select().count() == 5


@pytest.mark.both_databases
def test_a_bundle_id_belongs_to_one_account_per_platform(client, accounts):
    assert post(client, accounts.headers("alice")).status_code == 201
    response = post(client, accounts.headers("bob"), version="5.0.0")
    assert response.status_code == 409
    assert "com.example.demo" in response.get_json()["message"]
    assert post(client, accounts.headers("bob"), platform="ios").status_code == 201
    assert [b.owner.username for b in AppBuild.select().order_by(AppBuild.id)] == ["alice", "bob"]


def test_a_claim_with_nothing_but_failed_builds_lapses_to_the_next_account(client, accounts):
    """Asking for a build that fails (an unreachable URL) must not keep a bundle id from its real owner."""
    failed = post(client, accounts.headers("mallory")).get_json()["id"]
    AppBuild.update(status=AppBuildStatus.FAILED, error="unreachable").where(AppBuild.uid == failed).execute()
    AppBundle.update(key_sealed="sealed", certificate=b"mallory's").execute()
    taken = post(client, accounts.headers("alice"))
    assert taken.status_code == 201, taken.get_json()
    bundle = AppBundle.get(AppBundle.bundle_id == "com.example.demo")
    # Alice's now, with no key of mallory's: her first build makes her own.
    assert (bundle.owner.username, bundle.key_sealed, bundle.certificate) == ("alice", None, None)
    # Held by a build that is queued (or building, or made), it is alice's and no one else's.
    refused = post(client, accounts.headers("mallory"), version="2.0.0")
    assert refused.status_code == 409
    assert client.get(f"/api/v1/builds/{failed}", headers=accounts.headers("mallory")).status_code == 200


def test_another_accounts_build_and_an_unknown_one_are_404s(client, accounts):
    build = post(client, accounts.headers("alice")).get_json()
    for path in (f"/api/v1/builds/{build['id']}", "/api/v1/builds/no-such-build", "/api/v1/builds/1"):
        response = client.get(path, headers=accounts.headers("bob"))
        assert response.status_code == 404 and set(response.get_json()) == {"message"}


def test_the_list_pages_newest_first(client, accounts):
    alice = accounts.headers()
    made = [post(client, alice, version=f"1.0.{n}").get_json()["id"] for n in range(25)]
    post(client, accounts.headers("bob"), bundleId="com.bob.app")
    first = client.get("/api/v1/builds", headers=alice).get_json()
    assert (first["total"], first["limit"], first["offset"]) == (25, 20, 0)
    assert [b["id"] for b in first["data"]] == made[::-1][:20]
    rest = client.get("/api/v1/builds?limit=20&offset=20", headers=alice).get_json()
    assert [b["id"] for b in rest["data"]] == made[::-1][20:]
    assert client.get("/api/v1/builds?limit=100", headers=alice).get_json()["limit"] == 100
    assert client.get("/api/v1/builds?offset=25", headers=alice).get_json()["data"] == []
    assert client.get("/api/v1/builds?limit=0", headers=alice).get_json()["data"] == []
    for query in ("limit=101", "limit=-1", "offset=-1", "limit=abc", "limit=1.5", "offset=99999999999999999999"):
        response = client.get(f"/api/v1/builds?{query}", headers=alice)
        assert response.status_code == 400, query
        assert response.get_json()["message"].startswith(query.partition("=")[0])


def test_a_format_and_link_domains_are_kept(client, accounts):
    build = post(client, accounts.headers(), format="apk", linkDomains=["shop.example.com", "*.example.org"]).get_json()
    assert (build["format"], build["artifact"]) == ("apk", "apk")
    assert build["linkDomains"] == ["*.example.org", "shop.example.com"]
    ios = post(client, accounts.headers(), platform="ios", bundleId="com.example.other").get_json()
    assert ios["artifact"] == "xcode-project" and "format" not in ios and "linkDomains" not in ios


@pytest.fixture
def finished_build(client, accounts):
    """Alice's build, marked a success with an App Bundle and an APK as a worker would leave them."""
    uid = post(client, accounts.headers(), format="apk").get_json()["id"]
    build = AppBuild.get(AppBuild.uid == uid)
    AppArtifact.create(build=build, kind="apk", file_name="com.example.demo-1.0.0.apk", size=9,
                       content_type="application/vnd.android.package-archive", sha256="0" * 64, data=b"PK\x03\x04apk")
    AppArtifact.create(build=build, kind="aab", file_name="com.example.demo-1.0.0.aab", size=9,
                       content_type="application/octet-stream", sha256="1" * 64, data=b"PK\x03\x04aab")
    AppBuild.update(status=AppBuildStatus.SUCCESS, completed_at=utcnow()).where(AppBuild.id == build.id).execute()
    return AppBuild.get_by_id(build.id)


def test_each_artifact_has_its_own_link_and_the_download_is_the_format_asked_for(app, client, accounts,
                                                                                 finished_build):
    shown = client.get(f"/api/v1/builds/{finished_build.uid}", headers=accounts.headers()).get_json()
    assert [(a["kind"], a["fileName"], a["size"]) for a in shown["artifacts"]] == [
        ("apk", "com.example.demo-1.0.0.apk", 9), ("aab", "com.example.demo-1.0.0.aab", 9)]
    base = app.config["STOKER_PUBLIC_URL"]
    bodies = {a["kind"]: client.get(a["downloadUrl"].removeprefix(base)) for a in shown["artifacts"]}
    assert bodies["aab"].data == b"PK\x03\x04aab" and bodies["apk"].data == b"PK\x03\x04apk"
    assert 'filename="com.example.demo-1.0.0.aab"' in bodies["aab"].headers["Content-Disposition"]
    assert client.get(shown["downloadUrl"].removeprefix(base)).data == b"PK\x03\x04apk"
    # One artifact's signature does not open the other.
    aab_link = shown["artifacts"][1]["downloadUrl"].removeprefix(base)
    response = client.get(aab_link.replace("/aab?", "/apk?"))
    assert response.status_code == 403


def test_the_download_link_needs_no_token_but_a_good_unexpired_signature(app, client, accounts, finished_build):
    shown = client.get(f"/api/v1/builds/{finished_build.uid}", headers=accounts.headers()).get_json()
    link = shown["downloadUrl"]
    assert link.startswith(f"{app.config['STOKER_PUBLIC_URL']}/api/v1/downloads/{finished_build.uid}?expires=")
    expires = int(link.split("expires=")[1].split("&")[0])
    assert 3590 < expires - time.time() <= 3600
    path = link.removeprefix(app.config["STOKER_PUBLIC_URL"])

    response = client.get(path)
    assert response.status_code == 200 and response.data == b"PK\x03\x04apk"
    assert response.headers["Content-Type"] == "application/vnd.android.package-archive"
    assert 'filename="com.example.demo-1.0.0.apk"' in response.headers["Content-Disposition"]

    signature = path.split("signature=")[1]
    tampered = [
        path.replace(f"expires={expires}", f"expires={expires + 3600}"),
        # The first character: the last one's low bits are padding, and some changes there decode alike.
        path.replace(signature, ("A" if signature[0] != "A" else "B") + signature[1:]),
        path.split("&signature=")[0],
        path.replace(finished_build.uid, "0" * 36),
        f"/api/v1/downloads/{finished_build.uid}",
    ]
    for bad in tampered:
        response = client.get(bad)
        assert response.status_code == 403, bad
        assert set(response.get_json()) == {"message"}

    with app.app_context():
        expired = links.url_for_build(app, finished_build, now=time.time() - 3601)
    response = client.get(expired.removeprefix(app.config["STOKER_PUBLIC_URL"]))
    assert response.status_code == 403 and "expired" in response.get_json()["message"]


def test_the_link_lasts_as_long_as_configured(app, client, accounts, finished_build):
    app.config["STOKER_DOWNLOAD_URL_SECONDS"] = 60
    link = client.get(f"/api/v1/builds/{finished_build.uid}", headers=accounts.headers()).get_json()["downloadUrl"]
    assert 50 < int(link.split("expires=")[1].split("&")[0]) - time.time() <= 60


def test_each_store_s_own_bundle_id_rule_holds(client, accounts):
    """Apple's ids may hold a hyphen and no underscore; Android's package names the other way round."""
    assert post(client, accounts.headers(), platform="ios", bundleId="com.example-co.app").status_code == 201
    refused = post(client, accounts.headers(), platform="android", bundleId="com.example-co.app")
    assert refused.status_code == 400 and "letters, digits or _" in refused.get_json()["message"]
    refused = post(client, accounts.headers(), platform="ios", bundleId="com.example_co.app")
    assert refused.status_code == 400 and "no _" in refused.get_json()["message"]
