"""HTTP on loopback: servers of our own in a thread, and requests sent exactly as written."""
import http.client
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


def raw_get(server, path):
    """GET `path` exactly as written, over a plain socket: no client library tidies it first.

    Werkzeug answers a path with doubled slashes by redirecting to the merged path;
    that redirect is followed (it must stay on this server) and its answer returned.
    """
    url = urlsplit(server.url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        if response.status == 308:
            location = urlsplit(response.getheader("Location"))
            assert location.netloc in ("", url.netloc)
            return raw_get(server, location.path)
        return response.status, response.read().decode(errors="replace")
    finally:
        connection.close()


def reply_json(handler, status, answer):
    """Answer the request `handler` (a BaseHTTPRequestHandler) serves with `status` and `answer` as
    JSON (None: no body)."""
    data = json.dumps(answer).encode() if answer is not None else b""
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


class LocalHttp:
    """A real HTTP server on 127.0.0.1, in a thread, answering with `handler` (a
    BaseHTTPRequestHandler class); `close()` when done."""

    def __init__(self, handler):
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Site(LocalHttp):
    """A web site on 127.0.0.1 whose every answer a test sets with `page()`; anything else is a 404."""

    def __init__(self):
        routes = self.routes = {}

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                status, headers, body = routes.get(self.path, (404, {}, b"not here"))
                headers = dict(headers)
                drip = headers.pop("drip", None)
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if drip is None:
                    self.wfile.write(body)
                    return
                for byte in body:
                    time.sleep(drip)
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.do_GET()

            def log_message(self, *args):
                pass

        super().__init__(Handler)

    def page(self, path, body, content_type="text/html", status=200, drip=None, **headers):
        """Answer GET (or POST, whatever it sends) `path` with `body`; `drip`: seconds to wait before
        each byte of it."""
        extra = {"drip": drip} if drip is not None else {}
        self.routes[path] = (status, {"Content-Type": content_type, **headers, **extra}, body)


def host_listener(text):
    """A server on every address of this host, as Stoker, PostgreSQL, Redis or SMTP may listen,
    answering every GET with `text`: were a build routed to this host, it would answer. Returns
    the server (its port: server_address[1]; the caller shuts it down)."""

    class Answer(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.end_headers()
            self.wfile.write(text)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("0.0.0.0", 0), Answer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class Receiver(LocalHttp):
    """A webhook's target on 127.0.0.1: keeps every POST (`seen`: headers and body; `paths`) and
    answers with the statuses it is given, in turn (then 200)."""

    def __init__(self, answers=()):
        self.seen, self.paths, self.answers = [], [], list(answers)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.seen.append((dict(self.headers), body))
                receiver.paths.append(self.path)
                status = receiver.answers.pop(0) if receiver.answers else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        super().__init__(Handler)
        self.url += "/stoker"

    def bodies(self):
        return [json.loads(body) for _, body in self.seen]
