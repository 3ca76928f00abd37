"""What a build with a way out may not reach, as this host's packet filter enforces it.

A build's network is a bridge carved from the build subnets (STOKER_SERVICE_SUBNETS). Two chains
of Stoker's own hold the rules, each jumped to first:
- STOKER-INPUT (from INPUT): nothing from a build reaches this host itself, whatever it listens
  on (Stoker, PostgreSQL, Redis, SMTP, the engine's API on TCP).
- STOKER-FORWARD (from FORWARD and DOCKER-USER): nothing from a build
  reaches another build's network, the link-local range (where clouds keep their metadata
  service), or the other addresses the admin denies (STOKER_BUILD_DENY, and the hosts of the
  database, Redis and SMTP the server is configured with).
Traffic within one build's bridge (its steps and services) is let through, and nothing outside
the build subnets starts a connection into them. Each chain is written whole every time, in one
commit: `apply` is safe to run again. `in_place` tells whether the rules still stand.
"""
import ipaddress
import shutil
import subprocess
from dataclasses import dataclass

INPUT_CHAIN = "STOKER-INPUT"
FORWARD_CHAIN = "STOKER-FORWARD"
LINK_LOCAL = "169.254.0.0/16"
# Docker evaluates DOCKER-USER before its own accepting rules at the head of FORWARD, and adopts the
# chain if it is already there: hooked from both, the rules hold whichever starts first, and whether
# or not the engine writes rules of its own.
DOCKER_USER = "DOCKER-USER"
HOOKS = (("INPUT", INPUT_CHAIN), ("FORWARD", FORWARD_CHAIN), (DOCKER_USER, FORWARD_CHAIN))


class FirewallUnavailable(Exception):
    """The rules could not be written here; the message says why and what would."""


@dataclass(frozen=True)
class Rules:
    build_subnets: tuple
    denied: tuple = ()

    def input(self):
        for subnet in self.build_subnets:
            yield ["-s", subnet, "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "RETURN"]
            yield from _refuse(["-s", subnet])

    def forward(self):
        for subnet in self.build_subnets:
            # One build's steps and services, bridged to each other.
            yield ["-s", subnet, "-m", "physdev", "--physdev-is-bridged", "-j", "RETURN"]
            for destination in (*self.build_subnets, LINK_LOCAL, *self.denied):
                yield from _refuse(["-s", subnet, "-d", destination])
        for subnet in self.build_subnets:
            # Nothing else starts a connection into a build's network: what answers a build passes.
            yield ["-d", subnet, "-m", "physdev", "--physdev-is-bridged", "-j", "RETURN"]
            yield ["-d", subnet, "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "RETURN"]
            yield from _refuse(["-d", subnet])


def _refuse(match):
    """Refused at once (a reset, or port unreachable), not dropped: a build fails fast, saying so."""
    yield [*match, "-p", "tcp", "-j", "REJECT", "--reject-with", "tcp-reset"]
    yield [*match, "-j", "REJECT", "--reject-with", "icmp-port-unreachable"]


def denied_networks(addresses):
    """The IPv4 networks of `addresses` (IPs or CIDRs) a build must not reach; loopback ones are
    left out (no build can reach this host's loopback anyway)."""
    networks = []
    for address in addresses:
        try:
            network = ipaddress.ip_network(address, strict=False)
        except ValueError:
            continue
        if network.version == 4 and not network.is_loopback:
            networks.append(str(network))
    return tuple(dict.fromkeys(networks))


def _iptables(*args, check=True):
    done = subprocess.run(["iptables", "-w", "5", *args], capture_output=True, text=True)
    if check and done.returncode != 0:
        raise FirewallUnavailable(f"iptables {' '.join(args)}: {done.stderr.strip() or done.returncode}")
    return done.returncode == 0


def apply(rules):
    """Write both chains whole, in one commit of the filter table, and make sure each is jumped to
    first; raise FirewallUnavailable if this host cannot (no iptables, or no privilege)."""
    if shutil.which("iptables-restore") is None:
        raise FirewallUnavailable("iptables is not installed")
    for chain in (INPUT_CHAIN, FORWARD_CHAIN, DOCKER_USER):
        _iptables("-N", chain, check=False)
    # Declaring a chain in a restore empties it: each is replaced whole, never seen half-written.
    script = ["*filter", f":{INPUT_CHAIN} - [0:0]", f":{FORWARD_CHAIN} - [0:0]",
              *(" ".join(["-A", INPUT_CHAIN, *line]) for line in rules.input()),
              *(" ".join(["-A", FORWARD_CHAIN, *line]) for line in rules.forward()), "COMMIT", ""]
    done = subprocess.run(["iptables-restore", "-w", "5", "--noflush"], input="\n".join(script),
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise FirewallUnavailable(f"iptables-restore: {done.stderr.strip() or done.returncode}")
    for parent, chain in HOOKS:
        if not _iptables("-C", parent, "-j", chain, check=False):
            _iptables("-I", parent, "1", "-j", chain)


def in_place():
    """Whether both chains hold rules and every hook to them is there (rules go at a reboot or a
    firewall reload): a build is given a way out only while this holds."""
    done = subprocess.run(["iptables-save", "-t", "filter"], capture_output=True, text=True)
    if done.returncode != 0:
        return False
    lines = set(done.stdout.splitlines())
    return (all(f"-A {parent} -j {chain}" in lines for parent, chain in HOOKS)
            and all(any(line.startswith(f"-A {chain} ") for line in lines) for chain in (INPUT_CHAIN, FORWARD_CHAIN)))


def remove():
    """Take both chains away (for tests, and an admin undoing `stoker firewall`)."""
    for parent, chain in HOOKS:
        while _iptables("-D", parent, "-j", chain, check=False):
            pass
    for chain in (INPUT_CHAIN, FORWARD_CHAIN):
        _iptables("-F", chain, check=False)
        _iptables("-X", chain, check=False)
