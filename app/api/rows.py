"""A project's named rows that a request sets or removes (secrets, schedules, registry credentials),
each change noted in the audit trail."""
from peewee import IntegrityError

from ..records.models import db
from .access import audit
from .errors import ApiError


def _named(model, project, key):
    field, value = key
    return (model.project == project) & (getattr(model, field) == value)


def put_row(model, project, key, what, fields, before_create=None):
    """Set the project's `model` row whose `key` (field, value) is given to `fields`, making it if
    there is none (after `before_create()`, which may refuse); return it and whether it was there.
    Another request making the same row at the same moment is a 409, never a 500."""
    where = _named(model, project, key)
    with db.atomic():
        updated = model.update(**fields).where(where).execute()
        if not updated:
            if before_create is not None:
                before_create()
            try:
                with db.atomic():
                    model.create(project=project, **{key[0]: key[1]}, **fields)
            except IntegrityError:
                raise ApiError(409, f"The {what} was changed meanwhile; try again") from None
        audit(project, f"{what}.change" if updated else f"{what}.create", key[1])
    return model.get(where), bool(updated)


def delete_row(model, project, key, what):
    """Remove the project's `model` row whose `key` is given; 404 if there is none."""
    with db.atomic():
        if not model.delete().where(_named(model, project, key)).execute():
            raise ApiError(404, f"{what.capitalize()} not found")
        audit(project, f"{what}.delete", key[1])
