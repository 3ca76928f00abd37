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
from peewee import BigIntegerField, BooleanField, CharField, DateTimeField, ForeignKeyField, IntegrityError, fn

from .. import runtime
from .base import BaseModel, db, utcnow
from .builds import Build
from .words import Status

# The most of a report that is read, the most reports of a build that are, the most failed tests'
# names a build shows, and the most files a build keeps.
MAX_REPORT_BYTES = 20 * 1024 * 1024
MAX_REPORTS = 20
MAX_FAILED_NAMES = 50
MAX_FILES = 100
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


def keep(config, build_id, name, file, report, owner=None):
    """Copy `file` (open, read to its end) into the store as the build's artifact `name`, a piece
    at a time; the record. NotKept past STOKER_ARTIFACT_MAX_MB, the build's total or MAX_FILES, for a
    name it has kept already, or (given `owner`) once the build is no longer that worker's."""
    folder = folder_of(config, build_id)
    folder.mkdir(parents=True, exist_ok=True)
    digest, size, most = hashlib.sha256(), 0, config["STOKER_ARTIFACT_MAX_BYTES"]
    with tempfile.NamedTemporaryFile(dir=folder, prefix=".incoming-", delete=False) as incoming:
        try:
            for chunk in iter(lambda: file.read(CHUNK), b""):
                size += len(chunk)
                if size > most:
                    raise NotKept(f"Artifact {name!r} not kept: more than {most / 2**20:g} MB")
                digest.update(chunk)
                incoming.write(chunk)
        except BaseException:
            os.unlink(incoming.name)
            raise
    try:
        # The bounds are held where the record is made, so uploads side by side cannot pass them.
        with db.atomic():
            held = Build.select(Build.id).where(Build.id == build_id)
            if owner is not None:
                held = held.where((Build.worker_id == owner) & (Build.status == Status.RUNNING))
            if not held.exists():
                raise NotKept(f"Artifact {name!r} not kept: the build is no longer this host's")
            kept = BuildArtifact.select(fn.COUNT(BuildArtifact.id), fn.SUM(BuildArtifact.size)).where(
                BuildArtifact.build == build_id).tuples().first()
            if kept[0] >= MAX_FILES or (kept[1] or 0) + size > config["STOKER_ARTIFACT_BUILD_MAX_BYTES"]:
                raise NotKept(f"Artifact {name!r} not kept: a build keeps at most {MAX_FILES} files and "
                              f"{config['STOKER_ARTIFACT_BUILD_MAX_BYTES'] / 2**20:g} MB")
            try:
                with db.atomic():
                    artifact = BuildArtifact.create(build=build_id, name=name, size=size, sha256=digest.hexdigest(),
                                                    report=report)
            except IntegrityError:
                raise NotKept(f"Artifact {name!r} not kept: the build kept one of that name already") from None
    except BaseException:
        os.unlink(incoming.name)
        raise
    os.replace(incoming.name, folder / digest.hexdigest())
    if report:
        _count_tests(build_id, name, folder / digest.hexdigest())
    return artifact


def forget_of(config, build_id):
    """What an earlier run of the build kept: gone as it runs again (its lease had lapsed)."""
    with db.atomic():
        BuildArtifact.delete().where(BuildArtifact.build == build_id).execute()
        Build.update(test_report=None).where(Build.id == build_id).execute()
    remove_of(config, [build_id])


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
    held = [path for path in root.iterdir() if path.name.isdecimal() and len(path.name) <= 18]
    kept = set()
    for at in range(0, len(held), 500):
        ids = [int(path.name) for path in held[at:at + 500]]
        kept |= {str(build_id) for (build_id,) in Build.select(Build.id).where(Build.id.in_(ids)).tuples()}
    gone = [path for path in held if path.name not in kept]
    for path in gone:
        shutil.rmtree(path, ignore_errors=True)
    return len(gone)


def _count_tests(build_id, name, path):
    """Add what a JUnit XML report says to the build's test counts; a report that cannot be read is
    noted as such (no DTD or entity is taken, nothing past MAX_REPORT_BYTES is read), and only the
    first MAX_REPORTS of a build are read. Read off the hub: it holds no request meanwhile."""
    with open(path, "rb") as file:
        data = file.read(MAX_REPORT_BYTES)
    counts, failed_names, unread = runtime.off_the_hub(_read_report, name, data)
    with db.atomic():
        reports = BuildArtifact.select().where((BuildArtifact.build == build_id) & BuildArtifact.report).count()
        if reports > MAX_REPORTS:
            counts, failed_names, unread = None, [], [f"{name}: not read, past the first {MAX_REPORTS} reports"]
        before = Build.select(Build.test_report).where(Build.id == build_id).scalar()
        report = json.loads(before) if before else {"passed": 0, "failed": 0, "skipped": 0, "failedTests": [],
                                                      "unreadable": []}
        for key, value in (counts or {}).items():
            report[key] += value
        report["failedTests"] = (report["failedTests"] + failed_names)[:MAX_FAILED_NAMES]
        report["unreadable"] = (report["unreadable"] + unread)[:MAX_REPORTS]
        Build.update(test_report=json.dumps(report)).where(Build.id == build_id).execute()


def _read_report(name, data):
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    failed_names = []
    try:
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
    except Exception as exc:  # anything a hostile file makes the reader raise: it is unreadable, and said so
        return None, [], [f"{name}: {str(exc)[:200] or type(exc).__name__}"]
    return counts, failed_names, []
