#!/usr/bin/env bash
# `make demo`: the daemon on a built-in sandbox. A private D-Bus system bus, a network namespace whose
# eth1 is managed by the real systemd-networkd (see shared TESTBED.md), two example scripts, and the
# link flapped a few times from its peer's side. Everything is removed at the end, also on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
broker=$PWD/bin/network-broker
id=$$
dir=$(mktemp -d /tmp/network-broker-demo.XXXXXX)
# networkd drops to user systemd-network: it must be able to reach the bus socket in here.
chmod 0755 "$dir"
node=nb-demo-node-$id
peer=nb-demo-peer-$id
pids=()

cleanup() {
    set +e
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
    wait 2>/dev/null
    ip netns del "$node" 2>/dev/null
    ip netns del "$peer" 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "a private system bus"
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
dbus-daemon --config-file="$dir/bus.conf" --nofork --print-address > "$dir/bus.address" 2>/dev/null &
pids+=($!)
while [ ! -s "$dir/bus.address" ]; do sleep 0.05; done
export DBUS_SYSTEM_BUS_ADDRESS=unix:path=$dir/bus.sock
echo "$DBUS_SYSTEM_BUS_ADDRESS"

say "namespace $node: eth1, managed by systemd-networkd; its peer veth0 in $peer"
ip netns add "$node"
ip netns add "$peer"
ip -n "$peer" link add veth0 type veth peer name eth1
ip -n "$peer" link set eth1 netns "$node"
ip -n "$peer" addr add 10.231.0.1/24 dev veth0
ip -n "$peer" link set veth0 up
mkdir -p "$dir/network" "$dir/run"
printf '[Match]\nName=eth1\n[Network]\nAddress=10.231.0.2/24\nGateway=10.231.0.1\nIPv6AcceptRA=no\n' > "$dir/network/10-eth1.network"
cat "$dir/network/10-eth1.network"
ip netns exec "$node" unshare -m --propagation private sh -c "
  mount --bind $dir/run /run/systemd
  mount -o remount,ro,bind /sys
  mount --bind $dir/network /etc/systemd/network
  mkdir -p /run/systemd/netif && chown systemd-network:systemd-network /run/systemd/netif
  exec /lib/systemd/systemd-networkd" > "$dir/networkd.log" 2>&1 &
networkd=$!
pids+=($networkd)
for _ in $(seq 100); do
    busctl --system list --no-pager 2>/dev/null | grep -q "^org.freedesktop.network1 " && break
    sleep 0.1
done
busctl --system list --no-pager 2>/dev/null | grep -q "^org.freedesktop.network1 " || { echo "systemd-networkd did not start:"; cat "$dir/networkd.log"; exit 1; }

say "the broker's configuration and two example scripts"
mkdir -p "$dir/etc/routable.d" "$dir/etc/no-carrier.d"
cat > "$dir/etc/network-broker.toml" <<'TOML'
[System]
LogLevel = "info"
# Started as root, the broker re-executes itself as this user with only CAP_NET_ADMIN and CAP_SYS_ADMIN.
User = "nobody"

[Network]
Links = "eth1"
EmitJSON = true
TOML
cat > "$dir/etc/routable.d/10-announce" <<'SCRIPT'
#!/bin/sh
address=$(printf '%s' "$JSON" | grep -o '"IP":"[0-9.]*","Mask":[0-9]*' | head -n 1 | sed 's/"IP":"\([^"]*\)","Mask":/\1\//')
echo "$LINK (ifindex $LINKINDEX) is routable with $address; carrier $CarrierState, online $OnlineState"
SCRIPT
cat > "$dir/etc/no-carrier.d/10-announce" <<'SCRIPT'
#!/bin/sh
echo "$LINK lost its carrier (OperationalState=$OperationalState)"
SCRIPT
chmod 0755 "$dir"/etc/*.d/*
for f in "$dir/etc/network-broker.toml" "$dir/etc/routable.d/10-announce" "$dir/etc/no-carrier.d/10-announce"; do
    echo "--- ${f#$dir/}"; cat "$f"
done

say "starting network-broker in the namespace (it sees networkd's /run/systemd through its mount namespace)"
# Its control socket goes in the sandbox, not in this machine's /run/network-broker.
export RUNTIME_DIRECTORY=$dir/run-broker
# nsenter execs the broker (no PID namespace to enter), so $! is the broker itself.
nsenter -t "$networkd" -n -m "$broker" --config "$dir/etc/network-broker.toml" > >(sed -u 's/^/  broker | /') 2>&1 &
broker_pid=$!
pids+=($broker_pid)
sleep 1.5

say "network-broker monitor: what the running daemon sees and does, through its control socket"
"$broker" monitor 2>/dev/null | grep --line-buffered -E ' (state|scripts|address-added|address-removed) |^    ' | sed -u 's/^/  monitor | /' &
pids+=($!)
sleep 0.3

for flap in 1 2 3; do
    say "flap $flap: the peer takes the carrier away"
    ip -n "$peer" link set veth0 down
    sleep 2
    say "flap $flap: the carrier comes back"
    ip -n "$peer" link set veth0 up
    sleep 3
done

say "the broker after the flaps: $(awk '/^VmRSS|^VmHWM|^Threads/ {printf "%s %s %s  ", $1, $2, $3}' /proc/$broker_pid/status)"
say "network-broker status, its first part: the daemon's own counters"
"$broker" status --config "$dir/etc/network-broker.toml" | sed -n '1,/^$/p' | sed 's/^/  /'
say "stopping the broker (SIGTERM), then removing the sandbox"
kill -TERM "$broker_pid"
wait "$broker_pid" || true
sleep 0.2
