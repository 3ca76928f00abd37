"""What builds keep of their workspaces: each file's record, its bytes in a folder every web process
reads (STOKER_ARTIFACT_DIR: the data dir's, or a shared one), named by the build and the file's
SHA-256, never by the name it was given; and the test counts its JUnit reports give.
"""
import hashlib
import json
import os
import shutil
import tempfile
import xml.etree.ElementTree as ElementTree
from pathlib import Path

from junitparser import JUnitXml, TestSuite
from peewee import BigIntegerField, BooleanField, CharField, DateTimeField, ForeignKeyField, IntegrityError

from .base import BaseModel, db, utcnow
from .builds import Build

# The most of a report that is read, and the most failed tests' names a build shows.
MAX_REPORT_BYTES = 20 * 1024 * 1024
MAX_FAILED_NAMES = 50
CHUNK = 1024 * 1024


class NotKept(Exception):
    """An artifact was not kept; says why."""


class BuildArtifact(BaseModel):
    build = ForeignKeyField(Build, backref="artifacts", on_delete="CASCADE")
    # As the workspace named it (dist/app.whl): shown and served as given, never a path here.
    name = CharField(max_length=500)
    size = BigIntegerField()
    sha256 = CharField(max_length=64)
    # A JUnit XML report, read for the build's test counts.
    report = BooleanField(default=False)
    created_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("build", "name"), True),)

    def to_json(self, download_url):
        return {"name": self.name, "size": self.size, "sha256": self.sha256, "report": self.report,
                "downloadUrl": download_url}


def folder_of(config, build_id):
    return Path(config["STOKER_ARTIFACT_DIR"]) / str(int(build_id))


def stored_file(config, artifact):
    return folder_of(config, artifact.build_id) / artifact.sha256


def keep(config, build_id, name, file, report):
    """Copy `file` (open, read to its end) into the store as the build's artifact `name`, a piece
    at a time; the record. NotKept past STOKER_ARTIFACT_MAX_MB or the build's total, or for a
    name it has kept already."""
    folder = folder_of(config, build_id)
    folder.mkdir(parents=True, exist_ok=True)
    kept = BuildArtifact.select(BuildArtifact.size).where(BuildArtifact.build == build_id)
    room = min(config["STOKER_ARTIFACT_MAX_BYTES"],
               config["STOKER_ARTIFACT_BUILD_MAX_BYTES"] - sum(row.size for row in kept))
    digest, size = hashlib.sha256(), 0
    with tempfile.NamedTemporaryFile(dir=folder, prefix=".incoming-", delete=False) as incoming:
        try:
            for chunk in iter(lambda: file.read(CHUNK), b""):
                size += len(chunk)
                if size > room:
                    raise NotKept(f"Artifact {name!r} not kept: past the most a file, or a build's artifacts, may be")
                digest.update(chunk)
                incoming.write(chunk)
        except BaseException:
            os.unlink(incoming.name)
            raise
    os.replace(incoming.name, folder / digest.hexdigest())
    try:
        artifact = BuildArtifact.create(build=build_id, name=name, size=size, sha256=digest.hexdigest(), report=report)
    except IntegrityError:
        raise NotKept(f"Artifact {name!r} not kept: the build kept one of that name already") from None
    if report:
        _count_tests(build_id, name, folder / digest.hexdigest())
    return artifact


def remove_of(config, build_ids):
    """Remove the stored files of these builds (deleted, or past what their project keeps)."""
    for build_id in build_ids:
        shutil.rmtree(folder_of(config, build_id), ignore_errors=True)


def remove_orphans(config):
    """Remove the stored files of builds no longer kept (a project deleted with its builds, say);
    how many builds' went."""
    root = Path(config["STOKER_ARTIFACT_DIR"])
    if not root.is_dir():
        return 0
    held = [path for path in root.iterdir() if path.name.isdecimal()]
    kept = {str(build_id) for (build_id,) in Build.select(Build.id).where(
        Build.id.in_([int(path.name) for path in held])).tuples()} if held else set()
    gone = [path for path in held if path.name not in kept]
    for path in gone:
        shutil.rmtree(path, ignore_errors=True)
    return len(gone)


def _count_tests(build_id, name, path):
    """Add what a JUnit XML report says to the build's test counts; a report that cannot be read is
    noted as such, and nothing in it is run or fetched (no DTD or entity is taken)."""
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    failed_names = []
    try:
        data = path.read_bytes()[:MAX_REPORT_BYTES]
        if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
            raise ValueError("it declares a DTD or entities")
        parsed = JUnitXml.fromroot(ElementTree.fromstring(data))
        for suite in ([parsed] if isinstance(parsed, TestSuite) else parsed):
            for case in suite:
                if case.is_skipped:
                    counts["skipped"] += 1
                elif case.is_passed:
                    counts["passed"] += 1
                else:
                    counts["failed"] += 1
                    failed_names.append(".".join(part for part in (case.classname, case.name) if part)[:300])
    except (ElementTree.ParseError, ValueError, TypeError, AttributeError) as exc:
        unread = [f"{name}: {str(exc)[:200]}"]
    else:
        unread = []
    with db.atomic():
        before = Build.select(Build.test_report).where(Build.id == build_id).scalar()
        report = json.loads(before) if before else {"passed": 0, "failed": 0, "skipped": 0, "failedTests": [],
                                                      "unreadable": []}
        for key, value in counts.items():
            report[key] += value
        report["failedTests"] = (report["failedTests"] + failed_names)[:MAX_FAILED_NAMES]
        report["unreadable"] = report["unreadable"] + unread
        Build.update(test_report=json.dumps(report)).where(Build.id == build_id).execute()

