#!/usr/bin/env bash
# The networkd sandbox of ../shared TESTBED.md, shared by `make demo` and `make bench`:
#   networkd-sandbox.sh up DIR TAG   a private system bus (DIR/bus.sock), namespaces nb-TAG-node and
#                                    nb-TAG-peer joined by a veth (node: eth1, peer: veth0 10.231.0.1/24),
#                                    the real systemd-networkd managing eth1 (10.231.0.2/24) with
#                                    /run/systemd bound to DIR/run; waits until eth1 is routable and
#                                    writes DIR/sandbox.env (NODE, PEER, DBUS_SYSTEM_BUS_ADDRESS, BUS_PID,
#                                    NETWORKD_PID, IFINDEX, NETIF).
#   networkd-sandbox.sh down DIR     stops both daemons and deletes the namespaces (DIR stays).
# The C# tests build the same sandbox in tests/NetworkBroker.IntegrationTests/Support/NetworkdSandbox.cs.
set -euo pipefail

up() {
    local dir=$1 tag=$2
    local node=nb-$tag-node peer=nb-$tag-peer
    # networkd drops to systemd-network: it must reach the bus socket and its runtime directory in here.
    chmod 0755 "$dir"
    mkdir -p "$dir/network" "$dir/run"
    cat > "$dir/bus.conf" <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <auth>EXTERNAL</auth>
  <listen>unix:path=$dir/bus.sock</listen>
  <policy context="default">
    <allow user="*"/> <allow own="*"/>
    <allow send_type="method_call"/> <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/> <allow receive_type="method_return"/>
    <allow receive_type="error"/> <allow receive_type="signal"/>
  </policy>
</busconfig>
CONF
    local bus_pid
    bus_pid=$(dbus-daemon --config-file="$dir/bus.conf" --fork --print-pid)
    local address=unix:path=$dir/bus.sock
    {
        echo "NODE=$node"
        echo "PEER=$peer"
        echo "DBUS_SYSTEM_BUS_ADDRESS=$address"
        echo "BUS_PID=$bus_pid"
    } > "$dir/sandbox.env"

    ip netns add "$node"
    ip netns add "$peer"
    ip -n "$peer" link add veth0 type veth peer name eth1
    ip -n "$peer" link set eth1 netns "$node"
    ip -n "$peer" addr add 10.231.0.1/24 dev veth0
    ip -n "$peer" link set veth0 up
    printf '[Match]\nName=eth1\n[Network]\nAddress=10.231.0.2/24\nGateway=10.231.0.1\nIPv6AcceptRA=no\n' > "$dir/network/10-eth1.network"

    # ip netns exec, unshare and sh all exec: the pid is networkd's.
    DBUS_SYSTEM_BUS_ADDRESS=$address setsid ip netns exec "$node" unshare -m --propagation private sh -c "
        mount --bind $dir/run /run/systemd
        mount -o remount,ro,bind /sys
        mount --bind $dir/network /etc/systemd/network
        mkdir -p /run/systemd/netif && chown systemd-network:systemd-network /run/systemd/netif
        exec /lib/systemd/systemd-networkd" > "$dir/networkd.log" 2>&1 < /dev/null &
    echo "NETWORKD_PID=$!" >> "$dir/sandbox.env"

    local ifindex
    ifindex=$(ip netns exec "$node" cat /sys/class/net/eth1/ifindex)
    echo "IFINDEX=$ifindex" >> "$dir/sandbox.env"
    echo "NETIF=$dir/run/netif" >> "$dir/sandbox.env"
    for _ in $(seq 200); do
        grep -qs '^OPER_STATE=routable' "$dir/run/netif/links/$ifindex" && return 0
        sleep 0.05
    done
    echo "systemd-networkd did not make eth1 routable within 10 s:" >&2
    cat "$dir/networkd.log" >&2
    return 1
}

down() {
    local dir=$1
    [ -f "$dir/sandbox.env" ] || return 0
    # shellcheck disable=SC1091
    . "$dir/sandbox.env"
    kill "${NETWORKD_PID:-}" "${BUS_PID:-}" 2>/dev/null || true
    for _ in $(seq 50); do
        kill -0 "${NETWORKD_PID:-0}" 2>/dev/null || kill -0 "${BUS_PID:-0}" 2>/dev/null || break
        sleep 0.05
    done
    ip netns del "$NODE" 2>/dev/null || true
    ip netns del "$PEER" 2>/dev/null || true
}

case ${1:-} in
    up) up "$2" "$3" ;;
    down) down "$2" ;;
    *) echo "usage: $0 up DIR TAG | down DIR" >&2; exit 2 ;;
esac
