#!/usr/bin/env python3
"""Captures real rtnetlink bytes for the codec tests (run once, as root; see README.md).

Makes namespace nb-capture with a veth pair, v4/v6 addresses, routes (one in a table above 255,
one multipath) and rules, then writes the kernel's own replies and notifications:
  dump-links.bin dump-addresses.bin dump-routes.bin dump-rules.bin   RTM_GET* dump replies
  events.bin                                                         multicast notifications
Each file is the received datagrams concatenated (netlink messages are 4-byte aligned, so the
result is itself a valid message stream). Independent of the code under test on purpose.
"""
import os, socket, struct, subprocess, sys, time

NS = "nb-capture"
RTM_GETLINK, RTM_GETADDR, RTM_GETROUTE, RTM_GETRULE = 18, 22, 26, 34
NLM_F_REQUEST, NLM_F_DUMP = 1, 0x300
GROUPS = [1, 5, 7, 8, 9, 11, 19]  # link, v4/v6 addr, v4/v6 route, v4/v6 rule

def sh(cmd):
    subprocess.run(cmd, shell=True, check=True)

def nsh(cmd):
    sh(f"ip -n {NS} " + cmd)

def dump(sock, msg_type, header_len, path):
    seq = int(time.time()) & 0xffff
    body = bytes(header_len)
    sock.send(struct.pack("=IHHII", 16 + len(body), msg_type, NLM_F_REQUEST | NLM_F_DUMP, seq, 0) + body)
    out = b""
    while True:
        data = sock.recv(65536)
        out += data
        done, at = False, 0
        while at + 16 <= len(data):  # NLMSG_DONE ends the dump; it may share a datagram with the last entries
            length, kind = struct.unpack_from("=IH", data, at)
            done |= kind == 3
            at += (length + 3) & ~3
        if done:
            break
    open(path, "wb").write(out)

def inside():
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    s.bind((0, 0))
    dump(s, RTM_GETLINK, 16, "dump-links.bin")
    dump(s, RTM_GETADDR, 8, "dump-addresses.bin")
    dump(s, RTM_GETROUTE, 12, "dump-routes.bin")
    dump(s, RTM_GETRULE, 12, "dump-rules.bin")

    m = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    m.bind((0, 0))
    for g in GROUPS:
        m.setsockopt(270, 1, g)  # SOL_NETLINK, NETLINK_ADD_MEMBERSHIP
    for cmd in [
        "ip link add ev0 type veth peer name ev1",
        "ip link set ev0 up", "ip link set ev1 up",
        "ip link set ev1 name ev1renamed",
        "ip addr add 192.0.2.10/24 dev ev0",
        "ip addr add 2001:db8:5::10/64 dev ev0 nodad",
        "ip route add 198.51.100.0/24 via 192.0.2.1 dev ev0 proto static metric 50",
        "ip route add default via 192.0.2.1 dev ev0 table 10005",
        "ip rule add from 192.0.2.10/32 lookup 10005 priority 32000 protocol 250",
        "ip -6 rule add to 2001:db8:5::10/128 lookup 10005 priority 32000 protocol 250",
        "ip rule del from 192.0.2.10/32 lookup 10005 priority 32000",
        "ip route del default via 192.0.2.1 dev ev0 table 10005",
        "ip route del 198.51.100.0/24",
        "ip addr del 192.0.2.10/24 dev ev0",
        "ip link del ev0",
    ]:
        sh(cmd)
    time.sleep(0.2)
    m.setblocking(False)
    out = b""
    while True:
        try:
            out += m.recv(65536)
        except BlockingIOError:
            break
    open("events.bin", "wb").write(out)

if len(sys.argv) > 1 and sys.argv[1] == "--inside":
    inside()
    sys.exit(0)

sh(f"ip netns del {NS} 2>/dev/null || true")
sh(f"ip netns add {NS}")
try:
    nsh("link set lo up")
    nsh("link add eth0 type veth peer name eth1")
    nsh("link set eth0 up"); nsh("link set eth1 up")
    nsh("link property add dev eth0 altname uplink0")
    nsh("addr add 10.231.0.2/24 dev eth0")
    nsh("addr add 10.231.1.2/24 dev eth1")
    nsh("addr add 2001:db8:1::2/64 dev eth0 nodad")
    nsh("route add default via 10.231.0.1 dev eth0")
    nsh("route add 203.0.113.0/24 nexthop via 10.231.0.1 dev eth0 nexthop via 10.231.1.1 dev eth1")
    nsh("route add default via 10.231.1.1 dev eth1 table 10003")
    nsh("-6 route add default via 2001:db8:1::1 dev eth0 metric 1024")
    nsh("rule add from 10.231.1.2/32 lookup 10003 priority 32000 protocol 250")
    nsh("rule add to 10.231.1.2/32 lookup 10003 priority 32000 protocol 250")
    nsh("-6 rule add from 2001:db8:1::2/128 lookup 10003 priority 32000")
    here = os.path.dirname(os.path.abspath(__file__))
    sh(f"cd {here} && ip netns exec {NS} python3 {os.path.abspath(__file__)} --inside")
finally:
    sh(f"ip netns del {NS}")
