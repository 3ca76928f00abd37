"""Keeping the tests on this machine: a connection from the test process to anywhere but
loopback, a unix socket or the test networks is refused, and remembered for the test to fail.

Only this process is guarded: servers, workers, git and browsers the tests start are processes of
their own, kept local by what they are given (loopback addresses, STOKER_GITHUB_API_URL and the
like; see servers.py).
"""
import ipaddress
import socket
from contextlib import contextmanager

# Loopback, and the documentation ranges tests give their own network namespaces.
ON_THIS_MACHINE = [ipaddress.ip_network(net) for net in ("127.0.0.0/8", "::1/128", "203.0.113.0/24",
                                                           "198.51.100.0/24")]
# Other addresses a test routes into a namespace of its own while it does (see routed_here).
ROUTED_HERE = []


class OffTheMachine(ConnectionRefusedError):
    """What a connection off the machine meets instead: a refusal, as an offline machine gives."""


def stays_here(family, address):
    """Whether a connection or datagram to `address` stays on this machine: any but an internet
    socket does; a host name does when every address it has does."""
    if family not in (socket.AF_INET, socket.AF_INET6):
        return True
    host = str(address[0]).partition("%")[0]
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            addresses = [ipaddress.ip_address(info[4][0].partition("%")[0])
                         for info in socket.getaddrinfo(host, None, family)]
        except socket.gaierror:
            return True  # a name nothing answers for: no connection is made
    # An IPv6 socket reaches an IPv4 address as ::ffff:a.b.c.d.
    addresses = [getattr(ip, "ipv4_mapped", None) or ip for ip in addresses]
    return all(any(ip in net for net in ON_THIS_MACHINE + ROUTED_HERE) for ip in addresses)


@contextmanager
def routed_here(network):
    """Within it, `network` counts as this machine's: for a test that routes an address anywhere
    else would reach (169.254.169.254, a cloud's metadata service) into a namespace of its own."""
    ROUTED_HERE.append(ipaddress.ip_network(network))
    try:
        yield
    finally:
        ROUTED_HERE.pop()


@contextmanager
def guarded():
    """Within it, socket connections and datagrams off the machine raise OffTheMachine; yields the
    list of those tried, as (kind, address). socket.create_connection, http.client, urllib3 and the
    ssl module all connect through socket.socket.connect."""
    tried = []
    real = {name: getattr(socket.socket, name) for name in ("connect", "connect_ex", "sendto")}

    def refuse(sock, kind, address):
        if not stays_here(sock.family, address):
            tried.append((kind, address))
            raise OffTheMachine(f"a test tried to {kind} {address!r}, off this machine")

    def connect(sock, address):
        refuse(sock, "connect to", address)
        return real["connect"](sock, address)

    def connect_ex(sock, address):
        refuse(sock, "connect to", address)
        return real["connect_ex"](sock, address)

    def sendto(sock, data, *flags_and_address):
        refuse(sock, "send to", flags_and_address[-1])
        return real["sendto"](sock, data, *flags_and_address)

    socket.socket.connect, socket.socket.connect_ex, socket.socket.sendto = connect, connect_ex, sendto
    try:
        yield tried
    finally:
        for name in real:
            delattr(socket.socket, name)  # the methods socket.socket has from _socket.socket again
