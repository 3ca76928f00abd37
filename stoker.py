"""The `stoker` command.

Patches the standard library for eventlet before anything else is imported:
peewee, the docker SDK and GitPython bind threading and socket primitives at
import time, and must get the green ones so that one build never stalls the
web server. app/runtime.py holds the patch and everything else eventlet.
"""
from app import runtime

runtime.patch()

from app.cli import main  # noqa: E402  (must follow the patch)

if __name__ == "__main__":
    main()
