#!/usr/bin/env bash
# `make demo`: the daemon on a built-in sandbox. A private D-Bus system bus, a network namespace whose
# eth1 is managed by the real systemd-networkd (see shared TESTBED.md), two example scripts, and the
# link flapped a few times from its peer's side. Everything is removed at the end, also on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
broker=$PWD/bin/network-broker
id=$$
dir=$(mktemp -d /tmp/network-broker-demo.XXXXXX)
pids=()

cleanup() {
    set +e
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
    wait 2>/dev/null
    ./scripts/networkd-sandbox.sh down "$dir"
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "the sandbox: a private system bus, namespace nb-demo$id-node whose eth1 is managed by the real systemd-networkd, its peer veth0 in nb-demo$id-peer"
./scripts/networkd-sandbox.sh up "$dir" "demo$id"
# NODE, PEER, DBUS_SYSTEM_BUS_ADDRESS, NETWORKD_PID, ...
set -a
. "$dir/sandbox.env"
set +a
networkd=$NETWORKD_PID
peer=$PEER
echo "$DBUS_SYSTEM_BUS_ADDRESS"
cat "$dir/network/10-eth1.network"

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
