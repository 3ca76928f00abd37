"""The `stoker` command.

Patches the standard library for eventlet before anything else is imported:
peewee, the docker SDK and GitPython bind threading and socket primitives at
import time, and must get the green ones so that one build never stalls the
web server. This is the only place that patches; see app/cli.py for the rest.
"""
import warnings

# The stack is chosen (see README); the banner would print on every command.
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

import eventlet  # noqa: E402

eventlet.monkey_patch()

from app.cli import main  # noqa: E402  (must follow the patch)

if __name__ == "__main__":
    main()
