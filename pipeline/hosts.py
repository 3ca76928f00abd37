"""Which network hosts Stoker may be steered at: repositories to fetch, web apps to read.

Link-local addresses (cloud metadata) and the like are never reachable; private
and loopback ones only when the server is told it may (tests, closed networks).
A name is checked again after it is resolved, since it may point anywhere.
"""
import ipaddress
import re
import socket
import time
from urllib.parse import urlsplit

import urllib3

HOSTNAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*")


class UnsafeAddress(ValueError):
    """The address is one Stoker may not reach (private, loopback, link-local)."""


class Unreachable(Exception):
    """A request that could not be made or was cut off; the message says why, naming `what` was asked."""


def check_host(host, allow_private, field, error=UnsafeAddress):
    """Refuse a host name or literal address that is malformed or plainly not allowed."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        if not HOSTNAME.fullmatch(host):
            raise ValueError(f"{field} has an invalid host name") from None
        if host.lower() == "localhost" or host.lower().endswith(".localhost"):
            address = ipaddress.ip_address("127.0.0.1")
        else:
            return
    check_address(address, allow_private, field, error=error)


def check_address(address, allow_private, field, host=None, error=UnsafeAddress):
    where = f"{field}'s host {host} resolves to" if host else f"{field} must not point at"
    if address.is_link_local or address.is_multicast or address.is_unspecified or address.is_reserved:
        raise error(f"{where} a link-local, multicast or reserved address")
    if not address.is_global and not allow_private:
        raise error(f"{where} a private or loopback address")


def resolve(host, port, allow_private, field, error=UnsafeAddress):
    """Every address `host` resolves to, sorted, once each has passed check_address.

    Raises OSError when the name does not resolve.
    """
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except UnicodeError:
        raise OSError(f"cannot resolve {host}") from None
    addresses = sorted({ipaddress.ip_address(info[4][0].split("%")[0]) for info in found}, key=str)
    for address in addresses:
        check_address(address, allow_private, field, host, error=error)
    return addresses


def exchange(method, url, headers, body, keep, *, allow_private, what, seconds, checked=True, query=None):
    """The HTTP status of one request to `url` (`what` is there, for messages), each piece of the
    answer's body given to `keep`; Unreachable when it cannot be made. Its host is resolved and
    checked (unless not `checked`: an admin's own address) and the connection made to the very
    address checked: a name resolved again could point anywhere. No redirect is followed, no proxy
    or .netrc of the environment applies, and an answer slower than `seconds` in all is cut off."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise Unreachable(f"{what} gave an address that is not one") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Unreachable(f"{what} gave an address that is not http(s)")
    https = parts.scheme == "https"
    port = port or (443 if https else 80)
    host = parts.hostname
    if checked:
        try:
            host = str(resolve(parts.hostname, port, allow_private, f"{what}'s address")[0])
        except (OSError, UnsafeAddress) as exc:
            raise Unreachable(f"{what} at {parts.hostname} cannot be reached: {exc}") from None
    options = {"server_hostname": parts.hostname, "assert_hostname": parts.hostname} if https else {}
    pool = (urllib3.HTTPSConnectionPool if https else urllib3.HTTPConnectionPool)(
        host, port, timeout=urllib3.Timeout(connect=5, read=10), retries=False, maxsize=1, **options)
    path = (parts.path or "/") + (query if query is not None else f"?{parts.query}" if parts.query else "")
    sent = {"Host": parts.netloc, "User-Agent": "Stoker", **headers}
    deadline = time.monotonic() + seconds
    try:
        response = pool.urlopen(method, path, body=body, headers=sent, redirect=False, preload_content=False)
        # What has arrived, a piece at a time: a peer that sends a byte now and then is still held to
        # the deadline, which each read's own timeout alone would not do.
        while chunk := response.read1(64 * 1024):
            keep(chunk)
            if time.monotonic() > deadline:
                raise Unreachable(f"{what} at {parts.hostname} answered too slowly")
        return response.status
    except urllib3.exceptions.HTTPError as exc:
        raise Unreachable(f"{what} at {parts.hostname} did not answer: {type(exc).__name__}") from None
    finally:
        pool.close()


def download(url, headers, out, most, *, allow_private, what, seconds=600):
    """GET `url` into `out` (a binary file), as `exchange` sends, at most `most` bytes; its HTTP
    status, or Unreachable."""
    written = 0

    def keep(chunk):
        nonlocal written
        written += len(chunk)
        if written > most:
            raise Unreachable(f"{what} at {urlsplit(url).hostname} sent more than the object's size")
        out.write(chunk)

    return exchange("GET", url, headers, None, keep, allow_private=allow_private, what=what, seconds=seconds)
