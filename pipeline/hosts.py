"""Which network hosts Stoker may be steered at: repositories to fetch, web apps to read.

Link-local addresses (cloud metadata) and the like are never reachable; private
and loopback ones only when the server is told it may (tests, closed networks).
A name is checked again after it is resolved, since it may point anywhere.
"""
import ipaddress
import re
import socket

HOSTNAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*")


class UnsafeAddress(ValueError):
    """The address is one Stoker may not reach (private, loopback, link-local)."""


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
