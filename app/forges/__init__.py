"""Forges, where projects' code lives: one module per forge (github.py; gitea.py, for Gitea and
its fork Forgejo alike; gitlab.py), each with one small interface, so that another forge is a new
module beside it. What they share is in shared.py.

A forge module gives:
- `verify(secret, headers, body)`: whether the delivery is signed with the project's secret, and
  `REFUSED`, what to answer when it is not;
- `delivery_id(headers)`: its id for the delivery, so that one sent again builds once;
- `PULL_REF`: where it keeps a pull request's head in the base repository ("refs/pull/{number}/head");
- `read(headers, payload)`: the delivery as a neutral record (events.py), or a string saying why
  it is nothing to build (`payload()` parses its body, for events that need it); BadDelivery for
  a delivery that is not what the forge sends;
- `send_status(app, project, build, status, description)`: a commit status back;
- for a user's account on it (hosting.py says in what words): `whoami`, `repositories`,
  `repository`, `add_hook`, `update_hook` (a new secret) and `remove_hook`, each given the app,
  the forge's address (None for GitHub) and the user's token.

A forge reads the records; it never imports the API, the live events or the worker.
"""
from . import gitea, github, gitlab

# Each forge by the name in its webhook's address: a module, or an object that gives the same.
FORGES = {"github": github, "gitea": gitea.GITEA, "forgejo": gitea.FORGEJO, "gitlab": gitlab}
