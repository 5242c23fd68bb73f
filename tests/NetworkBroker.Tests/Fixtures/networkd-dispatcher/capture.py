#!/usr/bin/env python3
"""Captures what Debian's networkd-dispatcher gives its hooks as `json`, and what it was made from (see README.md).

Run as root inside the mount and network namespaces of a running systemd-networkd (TESTBED.md), with
DBUS_SYSTEM_BUS_ADDRESS set to its bus:
    nsenter -t <networkd pid> -n -m python3 capture.py <link> <path of networkd-dispatcher>
Writes, for <link>:
  networkd-dispatcher.json  networkd-dispatcher's get_interface_data() for the link, as json.dumps(sort_keys=True)
                            writes it: its own code, run on the real `networkctl status` output
  networkctl-status.txt     that output
  dump-links.bin dump-addresses.bin dump-routes.bin   the kernel's RTM_GET* dump replies, at the same moment
  netif-link netif-lease    networkd's state and lease files of the link
Independent of the code under test on purpose: networkd-dispatcher's module is loaded with stand-ins only for
the D-Bus and GLib modules its parse never calls.
"""
import importlib.machinery, importlib.util, json, os, shutil, socket, struct, subprocess, sys, time, types

RTM_GETLINK, RTM_GETADDR, RTM_GETROUTE = 18, 22, 26
NLM_F_REQUEST, NLM_F_DUMP = 1, 0x300

def dump(msg_type, header_len, path):
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    sock.bind((0, 0))
    seq = int(time.time()) & 0xffff
    sock.send(struct.pack("=IHHII", 16 + header_len, msg_type, NLM_F_REQUEST | NLM_F_DUMP, seq, 0) + bytes(header_len))
    out = b""
    while True:
        data = sock.recv(65536)
        out += data
        done, at = False, 0
        while at + 16 <= len(data):
            length, kind = struct.unpack_from("=IH", data, at)
            done |= kind == 3
            at += (length + 3) & ~3
        if done:
            break
    open(path, "wb").write(out)

def main(link, dispatcher):
    for name in ["dbus", "dbus.mainloop", "dbus.mainloop.glib", "gi", "gi.repository"]:
        sys.modules.setdefault(name, types.ModuleType(name))
    sys.modules["gi.repository"].GLib = None
    loader = importlib.machinery.SourceFileLoader("networkd_dispatcher", dispatcher)
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader("networkd_dispatcher", loader))
    loader.exec_module(module)

    iface = next(i for i in module.get_networkctl_list() if i.name == link)
    status = subprocess.check_output(["networkctl", "status", "--no-pager", "--no-legend", "--", link])
    data = module.get_interface_data(iface)
    dump(RTM_GETLINK, 16, "dump-links.bin")
    dump(RTM_GETADDR, 8, "dump-addresses.bin")
    dump(RTM_GETROUTE, 12, "dump-routes.bin")
    open("networkctl-status.txt", "wb").write(status)
    open("networkd-dispatcher.json", "w").write(json.dumps(data, sort_keys=True) + "\n")
    shutil.copyfile(f"/run/systemd/netif/links/{iface.idx}", "netif-link")
    if os.path.exists(f"/run/systemd/netif/leases/{iface.idx}"):
        shutil.copyfile(f"/run/systemd/netif/leases/{iface.idx}", "netif-lease")

if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
