"""What a build with a way out may not reach, as this host's packet filter enforces it.

A build's network is a bridge carved from the build subnets (STOKER_SERVICE_SUBNETS). Two chains
of Stoker's own hold the rules, each jumped to first:
- STOKER-INPUT (from INPUT): nothing from a build reaches this host itself, whatever it listens
  on (Stoker, PostgreSQL, Redis, SMTP, the engine's API on TCP).
- STOKER-FORWARD (from DOCKER-USER when Docker made one, else FORWARD): nothing from a build
  reaches another build's network, the link-local range (where clouds keep their metadata
  service), or the other addresses the admin denies (STOKER_BUILD_DENY, and the hosts of the
  database, Redis and SMTP the server is configured with).
Traffic within one build's bridge (its steps and services) is let through. Each chain is
written whole every time: `apply` is safe to run again.
"""
import ipaddress
import shutil
import subprocess
from dataclasses import dataclass

INPUT_CHAIN = "STOKER-INPUT"
FORWARD_CHAIN = "STOKER-FORWARD"
LINK_LOCAL = "169.254.0.0/16"


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
    """Write both chains and make sure each is jumped to first; raise FirewallUnavailable if this
    host cannot (no iptables, or no privilege to change it)."""
    if shutil.which("iptables") is None:
        raise FirewallUnavailable("iptables is not installed")
    for chain, parent, lines in ((INPUT_CHAIN, "INPUT", rules.input()),
                                 (FORWARD_CHAIN, _forward_parent(), rules.forward())):
        if not _iptables("-N", chain, check=False):
            _iptables("-F", chain)
        for line in lines:
            _iptables("-A", chain, *line)
        if not _iptables("-C", parent, "-j", chain, check=False):
            _iptables("-I", parent, "1", "-j", chain)


def remove():
    """Take both chains away (for tests, and an admin undoing `stoker firewall`)."""
    for chain, parent in ((INPUT_CHAIN, "INPUT"), (FORWARD_CHAIN, _forward_parent())):
        while _iptables("-D", parent, "-j", chain, check=False):
            pass
        _iptables("-F", chain, check=False)
        _iptables("-X", chain, check=False)


def _forward_parent():
    # Docker puts its own accepting rules at the head of FORWARD and evaluates DOCKER-USER before them.
    return "DOCKER-USER" if _iptables("-L", "DOCKER-USER", "-n", check=False) else "FORWARD"
