"""A host "out there" for builds to reach: a network namespace of the tests' own, joined to this
machine by a veth pair, at an address of a documentation range this machine does not use.

It serves files over HTTP on REMOTE_ADDRESS, and answers at 169.254.169.254 as a cloud's metadata
service would: the address a build must never reach. This machine routes both to the namespace,
and the namespace routes everything back through this machine, so the builds' own addresses need
no translation.
"""
import shutil
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import requests

from .offline import routed_here

# 192.0.2.0/24 is this machine's own; 198.18.0.0/15 is STOKER_SERVICE_SUBNETS' default.
LINK = "203.0.113.0/24"
GATEWAY = "203.0.113.1"
REMOTE_ADDRESS = "203.0.113.10"
METADATA_ADDRESS = "169.254.169.254"
HTTP_PORT = 8080


# http.server's own command looks its address up in DNS before it listens, which in a namespace with
# no resolver waits out the resolver's timeout.
SERVE = """
import functools, http.server, socketserver, sys
class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass
handler = functools.partial(Quiet, directory=sys.argv[3])
class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    def server_bind(self):
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = sys.argv[1], int(sys.argv[2])
Server((sys.argv[1], int(sys.argv[2])), handler).serve_forever()
"""


def _ip(*args, netns=None):
    command = ["ip", *(("-n", netns) if netns else ()), *args]
    subprocess.run(command, check=True, capture_output=True, text=True)


class RemoteHost:
    def __init__(self, root):
        self.name = f"stoker-remote-{uuid.uuid4().hex[:8]}"
        self.files = Path(root) / "remote-files"
        self.files.mkdir(parents=True)
        self.url = f"http://{REMOTE_ADDRESS}:{HTTP_PORT}"
        self.metadata_url = f"http://{METADATA_ADDRESS}"
        self.processes = []

    def serve(self, name, body):
        """Put a file at `<url>/<name>`."""
        (self.files / name).write_bytes(body if isinstance(body, bytes) else body.encode())
        return f"{self.url}/{name}"

    def start(self):
        host_end, remote_end = f"h{self.name[-8:]}", f"r{self.name[-8:]}"
        self.host_end = host_end
        _ip("netns", "add", self.name)
        _ip("link", "add", host_end, "type", "veth", "peer", "name", remote_end, "netns", self.name)
        _ip("addr", "add", f"{GATEWAY}/24", "dev", host_end)
        _ip("link", "set", host_end, "up")
        _ip("addr", "add", f"{REMOTE_ADDRESS}/24", "dev", remote_end, netns=self.name)
        _ip("addr", "add", f"{METADATA_ADDRESS}/32", "dev", "lo", netns=self.name)
        _ip("link", "set", remote_end, "up", netns=self.name)
        _ip("link", "set", "lo", "up", netns=self.name)
        _ip("route", "add", "default", "via", GATEWAY, netns=self.name)
        _ip("route", "add", f"{METADATA_ADDRESS}/32", "via", REMOTE_ADDRESS, "dev", host_end)
        for address, port, folder in ((REMOTE_ADDRESS, HTTP_PORT, self.files),
                                      (METADATA_ADDRESS, 80, self._metadata_files())):
            self.processes.append(subprocess.Popen(
                ["ip", "netns", "exec", self.name, sys.executable, "-c", SERVE, address, str(port), str(folder)],
                stdout=subprocess.DEVNULL))
        self._wait_answering()
        return self

    def _metadata_files(self):
        folder = self.files.parent / "metadata"
        (folder / "latest" / "meta-data").mkdir(parents=True)
        (folder / "latest" / "meta-data" / "iam").write_text("the cloud's keys\n")
        return folder

    def _wait_answering(self):
        deadline = time.monotonic() + 10
        for url in (self.url, self.metadata_url):
            while True:
                try:
                    requests.get(url, timeout=1)
                    break
                except requests.ConnectionError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)

    def stop(self):
        for process in self.processes:
            process.terminate()
            process.wait(timeout=10)
        subprocess.run(["ip", "route", "del", f"{METADATA_ADDRESS}/32"], capture_output=True)
        subprocess.run(["ip", "link", "del", self.host_end], capture_output=True)
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)
        shutil.rmtree(self.files, ignore_errors=True)


@contextmanager
def remote_host(root):
    """A RemoteHost, started, and removed with everything it made when the block ends."""
    host = RemoteHost(root)
    # The metadata address is routed into the namespace meanwhile: reaching it stays on this machine.
    with routed_here(f"{METADATA_ADDRESS}/32"):
        try:
            yield host.start()
        finally:
            host.stop()
