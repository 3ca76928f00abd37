"""Every route the app has, with each method it answers, and a path that names real things for each."""
import re

# What each part of a rule stands for in the tests: alice's project 1, its build 1, its secret API_KEY ...
EXAMPLES = {"forge": "github", "project_id": "1", "build_id": "1", "name": "API_KEY", "filename": "dashboard.js",
            "user_id": "1", "token_id": "1", "identity_id": "1", "agent_id": "1", "lease": "agent:1:0", "username": "bob", "host": "registry.example.com",
            "hook_id": "1", "artifact_id": "1", "commit": "0" * 40, "remote": "aHR0cHM6Ly9leGFtcGxlLmNvbS9vL3IuZ2l0", "oid": "0" * 64,
            "bundle_id": "com.example.demo", "kind": "apk"}


def concrete(rule):
    """The rule's path with each part filled in from EXAMPLES."""
    return re.sub(r"<(?:\w+:)?(\w+)>", lambda m: EXAMPLES[m.group(1)], rule.rule)


def routes(app):
    """Each (rule, method) the app answers, but HEAD and OPTIONS."""
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method
