#!/usr/bin/env python3
"""A local user who takes a service's well-known name on a bus whose policy lets anyone own it, and speaks for it.

    name-squatter.py SOCKET NAME LINK_PATH SECONDS

Connects to the bus at SOCKET (EXTERNAL, as whoever runs it), asks for NAME (queued behind its owner, so it gets the name
when the owner stops), prints "queued" once asked, and for SECONDS broadcasts networkd's PropertiesChanged on LINK_PATH
with OperationalState and CarrierState "no-carrier", every 0.1 s. It answers no call. Written for the tests: no D-Bus
library, the wire format by hand (little-endian).
"""
import os, socket, struct, sys, time


class Writer:
    """Marshals values; its offset 0 is the message's start, or the body's (both 8-aligned)."""

    def __init__(self):
        self.data = bytearray()

    def align(self, n):
        self.data += b"\0" * (-len(self.data) % n)

    def byte(self, value):
        self.data.append(value)

    def uint32(self, value):
        self.align(4)
        self.data += struct.pack("<I", value)

    def string(self, value):
        encoded = value.encode()
        self.uint32(len(encoded))
        self.data += encoded + b"\0"

    def signature(self, value):
        encoded = value.encode()
        self.byte(len(encoded))
        self.data += encoded + b"\0"

    def array(self, element_alignment, write_elements):
        self.uint32(0)
        at = len(self.data) - 4
        self.align(element_alignment)
        start = len(self.data)
        write_elements()
        struct.pack_into("<I", self.data, at, len(self.data) - start)


def message(kind, serial, fields, signature="", body=b""):
    """kind: 1 method call, 4 signal; fields: (code, type, value) with type 'o', 's' or 'g'."""
    if signature:
        fields = fields + [(8, "g", signature)]
    header = Writer()
    for value in (ord("l"), kind, 0, 1):
        header.byte(value)
    header.uint32(len(body))
    header.uint32(serial)

    def write_fields():
        for code, kind_of_value, value in fields:
            header.align(8)
            header.byte(code)
            header.signature(kind_of_value)
            header.signature(value) if kind_of_value == "g" else header.string(value)

    header.array(8, write_fields)
    header.align(8)
    return bytes(header.data) + bytes(body)


def call(serial, destination, path, interface, member, signature="", body=b""):
    return message(1, serial, [(1, "o", path), (2, "s", interface), (3, "s", member), (6, "s", destination)], signature, body)


def main():
    path, name, link, seconds = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    bus = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    bus.connect(path)
    bus.sendall(b"\0AUTH EXTERNAL " + str(os.geteuid()).encode().hex().encode() + b"\r\n")
    if not bus.recv(4096).startswith(b"OK "):
        sys.exit("authentication refused")
    bus.sendall(b"BEGIN\r\n")
    bus.sendall(call(1, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "Hello"))
    request = Writer()
    request.string(name)
    request.uint32(0)  # no flags: queued behind the owner
    bus.sendall(call(2, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "RequestName", "su", request.data))
    print("queued", flush=True)
    bus.setblocking(False)
    serial = 3
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        body = Writer()
        body.string("org.freedesktop.network1.Link")

        def properties():
            for key in ("OperationalState", "CarrierState"):
                body.align(8)
                body.string(key)
                body.signature("s")
                body.string("no-carrier")

        body.array(8, properties)
        body.array(4, lambda: None)
        bus.sendall(message(4, serial, [(1, "o", link), (2, "s", "org.freedesktop.DBus.Properties"), (3, "s", "PropertiesChanged")],
                            "sa{sv}as", body.data))
        serial += 1
        try:
            while bus.recv(65536):
                pass  # what the bus says (the name's acquisition, calls to the name) is read and ignored
        except BlockingIOError:
            pass
        time.sleep(0.1)


if __name__ == "__main__":
    main()
