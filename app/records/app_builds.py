"""App builds: a web app made into a native app, its bundle (and signing key), and what it made."""
import json

from peewee import BlobField, CharField, DateTimeField, ForeignKeyField, IntegerField, TextField

from .accounts import User
from .base import BaseModel, LeasedJob, iso, utcnow
from .words import AppBuildStatus


class AppBundle(BaseModel):
    """A bundle id on one platform: the one account it belongs to, and its signing key once made."""

    owner = ForeignKeyField(User, backref="app_bundles", on_delete="CASCADE")
    bundle_id = CharField(max_length=255)
    platform = CharField(max_length=16)
    # The private key (PKCS#8, base64) sealed like a project secret, and its certificate (DER).
    key_sealed = TextField(null=True)
    certificate = BlobField(null=True)
    # When its owner brought in the key of an app made elsewhere: the bundle is theirs from then on.
    imported_at = DateTimeField(null=True)
    created_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("bundle_id", "platform"), True),)


class AppBuild(LeasedJob):
    """A web app's URL to be made into a native app; `uid` is the id the API shows."""

    uid = CharField(max_length=36, unique=True)
    owner = ForeignKeyField(User, backref="app_builds", on_delete="CASCADE")
    # The bundle whose signing key it is signed with; `bundle_id` is the bundle id itself.
    bundle_record = ForeignKeyField(AppBundle, column_name="app_bundle_id", object_id_name="bundle_record_id",
                                    backref="builds", on_delete="CASCADE")
    platform = CharField(max_length=16)
    name = CharField(max_length=255)
    bundle_id = CharField(max_length=255)
    version = CharField(max_length=255)
    url = TextField()
    # A JSON list of the API's permission words.
    permissions = TextField(default="[]")
    # Android: the artifact downloadUrl gives ("aab" or "apk"; null on iOS and before bundles), and
    # a JSON list of the hosts whose links open in the app.
    format = CharField(max_length=8, null=True)
    link_domains = TextField(default="[]")
    status = CharField(max_length=16, default=AppBuildStatus.QUEUED, index=True)
    error = TextField(null=True)
    created_at = DateTimeField(default=utcnow)
    completed_at = DateTimeField(null=True)

    class Meta:
        indexes = ((("owner", "id"), False),)

    @property
    def artifact_kind(self):
        """The kind of the artifact `downloadUrl` gives."""
        if self.platform == "ios":
            return "xcode-project"
        return self.format or "apk"

    def to_json(self, download_url=None, artifacts=()):
        """`artifacts`: (AppArtifact, its download link) for each, the download first."""
        data = {
            "id": self.uid,
            "status": self.status,
            "platform": self.platform,
            "artifact": self.artifact_kind,
            "name": self.name,
            "bundleId": self.bundle_id,
            "version": self.version,
            "url": self.url,
            "permissions": json.loads(self.permissions),
            "createdAt": iso(self.created_at),
        }
        if self.status in AppBuildStatus.FINISHED:
            data["completedAt"] = iso(self.completed_at)
        if self.platform == "android":
            data["format"] = self.artifact_kind
            data["linkDomains"] = json.loads(self.link_domains)
        if self.status == AppBuildStatus.SUCCESS and download_url:
            data["downloadUrl"] = download_url
            data["artifacts"] = [artifact.to_json(url) for artifact, url in artifacts]
        if self.status in AppBuildStatus.UNMADE:
            data["error"] = self.error
        return data


class AppArtifact(BaseModel):
    """What a successful app build made, kept in the database so any web process can serve it:
    one of each kind (an Android build makes an "aab" and an "apk")."""

    build = ForeignKeyField(AppBuild, backref="artifacts", on_delete="CASCADE", index=False)
    # Null on what builds made before there were two: their build's artifact_kind.
    kind = CharField(max_length=16, null=True)
    file_name = CharField(max_length=255)
    content_type = CharField(max_length=100)
    sha256 = CharField(max_length=64)
    size = IntegerField(null=True)
    data = BlobField()

    class Meta:
        indexes = ((("build", "kind"), True),)

    def to_json(self, download_url):
        return {"kind": self.kind or self.build.artifact_kind, "fileName": self.file_name,
                "size": self.size, "sha256": self.sha256, "downloadUrl": download_url}
