"""Private git servers on loopback: git's own http-backend behind HTTPS that wants a token, and
Debian's sshd serving repositories through git-shell to one deploy key."""
import base64
import datetime
import getpass
import ipaddress
import json
import os
import shutil
import socket
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from .repos import LFS_ATTRIBUTES, lfs_pointer
from .servers import free_port
from .services import unavailable
from .waiting import wait_until


def needs(*programs):
    """Each program on this machine, or the test is unavailable (a skip, or a failure under CI)."""
    for program in programs:
        if shutil.which(program) is None and not Path(program).exists():
            unavailable(f"{program} is not installed (Debian: openssh-server, docker-registry, apache2-utils)")


def self_signed(folder, address="127.0.0.1"):
    """A certificate for `address` and its key, as files; git trusts it through GIT_SSL_CAINFO."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, address)])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(minutes=5))
                   .not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(address))]),
                                  critical=False)
                   .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                   .sign(key, hashes.SHA256()))
    cert_path, key_path = Path(folder) / "cert.pem", Path(folder) / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


class HttpsGitServer:
    """Serves the bare repositories under `root` over HTTPS to whoever sends `token` as the
    password of HTTP Basic authentication (any user name), as GitHub does; `seen` keeps every
    Authorization header it was sent."""

    def __init__(self, folder, root, token):
        cert, key = self_signed(folder)
        self.ca = str(cert)
        self.seen = []
        # Git LFS, as GitHub serves it: the batch API under <repo>/info/lfs, objects by oid from
        # `lfs`; `lfs_href` (given the oid) says where the batch sends a download, by default here.
        self.lfs, self.lfs_href = {}, None
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                self.serve()

            def do_POST(self):
                self.serve()

            def serve(self):
                header = self.headers.get("Authorization", "")
                server.seen.append(header)
                if not password_is(header, token):
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="git"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                path, _, query = self.path.partition("?")
                if path.endswith("/info/lfs/objects/batch") or path.startswith("/lfs-objects/"):
                    return self.lfs(path, body)
                env = {"PATH": os.environ["PATH"], "GIT_PROJECT_ROOT": str(root), "GIT_HTTP_EXPORT_ALL": "1",
                       "REQUEST_METHOD": self.command, "PATH_INFO": path, "QUERY_STRING": query,
                       "CONTENT_TYPE": self.headers.get("Content-Type", ""), "CONTENT_LENGTH": str(len(body)),
                       "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
                       "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""), "REMOTE_ADDR": "127.0.0.1"}
                out = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True).stdout
                head, _, payload = out.partition(b"\r\n\r\n")
                headers = dict(line.split(": ", 1) for line in head.decode().split("\r\n") if ": " in line)
                self.send_response(int(headers.pop("Status", "200").split()[0]))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def lfs(self, path, body):
                if path.startswith("/lfs-objects/"):
                    data = server.lfs.get(path.rsplit("/", 1)[1])
                    return self.answer(200 if data is not None else 404, data or b"", "application/octet-stream")
                objects = []
                for item in json.loads(body)["objects"]:
                    oid = item["oid"]
                    href = server.lfs_href(oid) if server.lfs_href else f"{server.base}/lfs-objects/{oid}"
                    objects.append({"oid": oid, "size": item["size"], "actions": {"download": {"href": href}}}
                                   if oid in server.lfs else {"oid": oid, "error": {"code": 404, "message": "no"}})
                self.answer(200, json.dumps({"transfer": "basic", "objects": objects}).encode(),
                            "application/vnd.git-lfs+json")

            def answer(self, status, payload, content_type):
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.base = f"https://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, name):
        return f"{self.base}/{name}"

    def push_lfs_file(self, work, bare, name, content):
        """Commit `name` to the clone `work` (a LocalRepo) as an LFS pointer, with a ci.sh that prints
        its hash, and push it to `bare`, its content in this server's LFS store; returns its oid."""
        oid, pointer = lfs_pointer(content)
        self.lfs[oid] = content
        work.commit({".gitattributes": LFS_ATTRIBUTES, name: pointer, "ci.sh": f"sha256sum {name}\n"})
        subprocess.run(["git", "-C", str(work.path), "push", "-q", str(bare), "main"], check=True)
        return oid

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def password_is(header, token):
    if not header.startswith("Basic "):
        return False
    try:
        return base64.b64decode(header[6:]).decode().partition(":")[2] == token
    except ValueError:
        return False


class SshGitServer:
    """Debian's sshd on 127.0.0.1, letting one public key run git-shell (and nothing else) as this
    user, and git-lfs-authenticate as `lfs_authenticate` says; `restart(new_host_key=True)` comes
    back as a different host on the same port."""

    def __init__(self, folder, public_key):
        needs("/usr/sbin/sshd", "ssh-keygen", "git-shell")
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port, self.user = free_port(), getpass.getuser()
        # What git-lfs-authenticate answers (none until lfs_authenticate is called); what it was asked.
        self.lfs_answer, self.lfs_asked = self.folder / "lfs-authenticate.json", self.folder / "lfs-asked"
        (self.folder / "serve.sh").write_text(
            'case "$SSH_ORIGINAL_COMMAND" in\n'
            f'  "git-lfs-authenticate "*) echo "$SSH_ORIGINAL_COMMAND" >> {self.lfs_asked}; exec cat {self.lfs_answer};;\n'
            'esac\n'
            'exec git-shell -c "$SSH_ORIGINAL_COMMAND"\n')
        (self.folder / "authorized_keys").write_text(
            f'command="sh {self.folder}/serve.sh",no-port-forwarding,no-pty,'
            f"no-agent-forwarding,no-X11-forwarding {public_key}\n")
        self.process = None
        self.restart(new_host_key=True)

    def restart(self, new_host_key=False):
        self.stop()
        host_key = self.folder / "host_key"
        if new_host_key:
            host_key.unlink(missing_ok=True)
            Path(f"{host_key}.pub").unlink(missing_ok=True)
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(host_key)], check=True)
        config = self.folder / "sshd_config"
        config.write_text("\n".join([
            f"ListenAddress 127.0.0.1:{self.port}", f"HostKey {host_key}", f"PidFile {self.folder}/sshd.pid",
            f"AuthorizedKeysFile {self.folder}/authorized_keys", f"AllowUsers {self.user}",
            "StrictModes no", "UsePAM no", "PasswordAuthentication no", "KbdInteractiveAuthentication no",
            "PermitRootLogin prohibit-password", "LogLevel VERBOSE", ""]))
        # sshd's privilege separation needs this folder; a package install makes it, a boot may not.
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        self.log = open(self.folder / "sshd.log", "ab")
        self.process = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", str(config)], stderr=self.log)
        wait_until(self._listening, timeout=10, what=lambda: (self.folder / "sshd.log").read_text())

    def _listening(self):
        assert self.process.poll() is None, (self.folder / "sshd.log").read_text()
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            return True
        except OSError:
            return False

    def url(self, path):
        return f"ssh://{self.user}@127.0.0.1:{self.port}{path}"

    def lfs_authenticate(self, href, header):
        """Answer git-lfs-authenticate as GitHub does: the LFS server's address and what to send it."""
        self.lfs_answer.write_text(json.dumps({"href": href, "header": header, "expires_in": 3600}))

    def stop(self):
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.log.close()
            self.process = None


class LocalRegistry:
    """Debian's docker-registry on 127.0.0.1, wanting `username` and `password` (htpasswd, bcrypt)
    for every pull and push; `host` is how image references name it.

    Given a `netns`, it listens at `address` inside that network namespace (a RemoteHost's), over
    HTTPS with a certificate of its own, which this host's Docker engine is told to trust for as
    long as it runs.
    """

    PORT = 5000

    def __init__(self, folder, username, password, address="127.0.0.1", netns=None):
        needs("docker-registry", "htpasswd")
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.address, self.port = address, free_port() if netns is None else self.PORT
        self.host = f"{address}:{self.port}"
        htpasswd = subprocess.run(["htpasswd", "-Bbn", username, password], check=True, capture_output=True,
                                  text=True).stdout
        (self.folder / "htpasswd").write_text(htpasswd)
        self.credentials = (username, password)
        http = [f"addr: '{self.host}'", "secret: test-only"]
        self.trusted = None
        if netns is not None:
            certificate, key = self_signed(self.folder, address)
            http.append(f"tls: {{certificate: {certificate}, key: {key}}}")
            # The engine reads its registries' certificates from here at each pull.
            self.trusted = Path("/etc/docker/certs.d") / self.host
            self.trusted.mkdir(parents=True, exist_ok=True)
            shutil.copy(certificate, self.trusted / "ca.crt")
        config = self.folder / "config.yml"
        config.write_text("\n".join([
            "version: 0.1", "log: {level: warn}",
            f"storage: {{filesystem: {{rootdirectory: {self.folder / 'data'}}}}}",
            f"http: {{{', '.join(http)}}}",
            f"auth: {{htpasswd: {{realm: stoker-test, path: {self.folder / 'htpasswd'}}}}}", ""]))
        self.log = open(self.folder / "registry.log", "ab")
        command = ["docker-registry", "serve", str(config)]
        self.process = subprocess.Popen(["ip", "netns", "exec", netns, *command] if netns else command,
                                        stdout=self.log, stderr=subprocess.STDOUT)
        wait_until(self._answers, timeout=15, what=lambda: (self.folder / "registry.log").read_text())

    def _answers(self):
        assert self.process.poll() is None, (self.folder / "registry.log").read_text()
        try:
            socket.create_connection((self.address, self.port), timeout=1).close()
            return True
        except OSError:
            return False

    def tags(self, name):
        """The tags the registry holds of `name` (an empty list for none), asked as its owner."""
        username, password = self.credentials
        answer = requests.get(f"{'https' if self.trusted else 'http'}://{self.host}/v2/{name}/tags/list",
                              auth=(username, password), verify=str(self.trusted / "ca.crt") if self.trusted else True,
                              timeout=10)
        return [] if answer.status_code == 404 else answer.json().get("tags") or []

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)
        self.log.close()
        if self.trusted is not None:
            shutil.rmtree(self.trusted, ignore_errors=True)
