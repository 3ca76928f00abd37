"""Hosts of the tests' own on this machine (a server's, build agents'): each a network namespace
joined to this machine by a veth pair, a /30 of 198.51.100.0/24 between them (a documentation range
neither this machine's interfaces nor STOKER_SERVICE_SUBNETS use). A program started in one reaches
the others through this machine, which forwards between the links; this machine's loopback, where
PostgreSQL and Redis listen, is not its own."""
import subprocess
import sys
import uuid
from contextlib import ExitStack, contextmanager

NETWORK = "198.51.100"


def _ip(*args, netns=None):
    subprocess.run(["ip", *(("-n", netns) if netns else ()), *args], check=True, capture_output=True, text=True)


class Host:
    def __init__(self, number):
        self.name = f"stoker-host-{uuid.uuid4().hex[:8]}"
        # This machine's end of the link (where a server for these hosts listens), and the host's.
        self.gateway, self.address = f"{NETWORK}.{4 * number + 1}", f"{NETWORK}.{4 * number + 2}"
        self.link = f"h{self.name[-8:]}"

    def start(self):
        _ip("netns", "add", self.name)
        _ip("link", "add", self.link, "type", "veth", "peer", "name", f"r{self.name[-8:]}", "netns", self.name)
        _ip("addr", "add", f"{self.gateway}/30", "dev", self.link)
        _ip("link", "set", self.link, "up")
        _ip("addr", "add", f"{self.address}/30", "dev", f"r{self.name[-8:]}", netns=self.name)
        _ip("link", "set", f"r{self.name[-8:]}", "up", netns=self.name)
        _ip("link", "set", "lo", "up", netns=self.name)
        _ip("route", "add", "default", "via", self.gateway, netns=self.name)
        return self

    def popen(self, command, **kwargs):
        """`command` run in the host."""
        return subprocess.Popen(["ip", "netns", "exec", self.name, *command], **kwargs)

    def python(self, code, timeout=20):
        """Run Python code in the host; its completed process."""
        return subprocess.run(["ip", "netns", "exec", self.name, sys.executable, "-c", code], capture_output=True,
                              text=True, timeout=timeout)

    def cut(self):
        """Take the link down: the host reaches nothing, and nothing reaches it."""
        _ip("link", "set", self.link, "down")

    def mend(self):
        _ip("link", "set", self.link, "up")

    def stop(self):
        subprocess.run(["ip", "link", "del", self.link], capture_output=True)
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)


@contextmanager
def hosts(count):
    """`count` Hosts, started, and removed with everything they made when the block ends."""
    with ExitStack() as started:
        made = []
        for number in range(count):
            host = Host(number)
            started.callback(host.stop)
            made.append(host.start())
        yield made
