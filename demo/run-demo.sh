#!/usr/bin/env bash
# `make demo`: the daemon on a built-in sandbox. A private D-Bus system bus and a network namespace whose
# links are managed by the real systemd-networkd (see scripts/networkd-sandbox.sh): eth1 with a static
# address, then eth2, plugged in during the demo, which gets a DHCP lease from dnsmasq and policy routing.
# The daemon's start is shown from its log; from then on what it sees and does is shown as
# `network-broker monitor` prints it, one line per event, with each script's output beneath its result;
# the daemon's full log goes to a file, named if the demo fails.
# Everything is removed at the end, also on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
broker=$PWD/bin/network-broker
id=$$
dir=$(mktemp -d /tmp/network-broker-demo.XXXXXX)
log=$dir/broker.log
started=$EPOCHREALTIME
failed=1
interrupted=0

cleanup() {
    set +e
    [ -n "${broker_pid:-}" ] && kill -TERM "$broker_pid" 2>/dev/null && wait "$broker_pid" 2>/dev/null
    for pid in "${monitor_pid:-}" "${dnsmasq_pid:-}" "${render_pid:-}"; do [ -n "$pid" ] && kill "$pid" 2>/dev/null; done
    wait 2>/dev/null
    ./scripts/networkd-sandbox.sh down "$dir"
    if [ "$failed" = 1 ] && [ "$interrupted" = 0 ]; then
        # Kept for a look: the daemon's log, networkd's, dnsmasq's.
        if [ -s "$log" ]; then echo "The end of the daemon's log:" >&2; tail -n 20 "$log" | sed 's/^/  /' >&2; fi
        echo "The demo failed; the daemon's log is $log (networkd: $dir/networkd.log, dnsmasq: $dir/dnsmasq.log)" >&2
    else
        rm -rf "$dir"
    fi
}
trap cleanup EXIT
trap 'interrupted=1; exit 130' INT TERM

# Bold headings on a terminal only: piped into a file or a CI log there are no escape codes.
if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi
say() { printf '\n%s== %s%s\n' "$bold" "$*" "$plain"; }
indent() { sed 's/^/    /'; }
# Waits (up to 20 s) until COMMAND succeeds; says what it waited for if it never does.
wait_until() {
    local what=$1; shift
    for _ in $(seq 400); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    echo "timed out waiting for $what" >&2
    return 1
}
# How many event lines shown so far match an extended regular expression.
seen() { grep -c -E "$1" "$dir/monitor.txt" 2>/dev/null || true; }
seen_more() { [ "$(seen "$1")" -gt "$2" ]; }
# Waits until FILE (by default the events shown) has not grown for a quarter of a second (at most 3 s),
# so that the stragglers of one step are shown before the next step's heading.
settle() {
    local file=${1:-$dir/monitor.txt} size=-1 now
    for _ in $(seq 12); do
        now=$(stat -c %s "$file")
        [ "$now" = "$size" ] && return 0
        size=$now
        sleep 0.25
    done
}

# Reads `network-broker monitor`'s lines and prints those worth a first look, shortening the scripts'
# paths. Beneath a script's result it prints what that run wrote, from the daemon's log: the daemon logs
# a script's output as it comes and its end ("succeeded"/"failed") before the monitor hears of the run,
# so the run of a result is the last one of that link and script to end no later than the result's
# time (runs the monitor never reported, those of the start, are dropped, not shown under a later one).
# The log's warnings and errors are shown too. Everything printed is also appended to monitor.txt,
# which the steps wait on.
render() {
    local line entry pending='' link='' at='' path result name key runs record shown keep
    local -A running=() ended=()
    local us=$'\x1f' rs=$'\x1e'
    exec 3< "$log"
    out() { printf '%s\n' "$1"; printf '%s\n' "$1" >> "$dir/monitor.txt"; }
    while IFS= read -r line; do
        # The log so far (a line cut short by the end of the file is completed on the next pass).
        while IFS= read -r -u 3 entry || { pending+=$entry; false; }; do
            entry=$pending$entry pending=''
            if [[ $entry =~ ^[^\ ]+\ (info|warn)\ ([^\ ]+):\ ([a-z0-9-]+\.d/[^:\ ]+):\ (.*)$ ]]; then
                running[${BASH_REMATCH[2]} ${BASH_REMATCH[3]}]+="      | ${BASH_REMATCH[4]}$us"
            elif [[ $entry =~ ^[^T]+T([0-9:.]+)Z\ (info|warn)\ ([^\ ]+):\ ([a-z0-9-]+\.d/[^:\ ]+)\ (succeeded|failed) ]]; then
                key="${BASH_REMATCH[3]} ${BASH_REMATCH[4]}"
                ended[$key]+="${BASH_REMATCH[1]}$rs${running[$key]:-}"$'\n'
                unset "running[$key]"
            elif [[ $entry =~ ^[^\ ]+\ (warn|error|fatal)\ (.*)$ ]]; then
                out "  log: ${BASH_REMATCH[1]}: ${BASH_REMATCH[2]}"
            fi
        done
        case $line in
            "    "*)
                path=${line#    } path=${path%%: *}
                result=${line#"    $path: "}
                name=${path#"$dir/etc/"}
                out "    $name: $result"
                key="$link $name" shown='' keep=''
                while IFS= read -r record; do
                    [ -z "$record" ] && continue
                    if [[ ${record%%"$rs"*} > $at ]]; then keep+=$record$'\n'; else shown=${record#*"$rs"}; fi
                done <<<"${ended[$key]:-}"
                ended[$key]=$keep
                shown=${shown%"$us"}
                [ -n "$shown" ] && out "${shown//"$us"/$'\n'}"
                ;;
            *" scripts "*)
                at=${line%% *} link=${line#* } link=${link%% *}
                out "$line" ;;
            *" state "*|*" address-added "*|*" address-removed "*|*" policy-routing "*|*" link-added "*|*" manager-state "*)
                out "$line" ;;
        esac
    done
}

say "the sandbox: a private system bus; namespace nb-demo$id-node, its links managed by the real systemd-networkd"
# Beside the sandbox's eth1, a .network file for eth2, which is plugged in later: a DHCP client, whose
# server (dnsmasq) runs on the peer's side. networkd reads it at start.
mkdir -p "$dir/network"
printf '[Match]\nName=eth2\n[Network]\nDHCP=ipv4\nIPv6AcceptRA=no\nLinkLocalAddressing=no\n[DHCPv4]\nClientIdentifier=mac\n' \
    > "$dir/network/20-eth2.network"
./scripts/networkd-sandbox.sh up "$dir" "demo$id"
# NODE, PEER, DBUS_SYSTEM_BUS_ADDRESS, NETWORKD_PID, NETIF, ...
set -a
. "$dir/sandbox.env"
set +a
# Routable is enough for the sandbox; configured (networkd done with the link) keeps its last changes
# out of the events below.
wait_until "networkd to configure eth1" grep -q '^ADMIN_STATE=configured' "$NETIF/links/$IFINDEX"
echo "eth1: static 10.231.0.2/24 (10-eth1.network), its peer veth0 in $PEER"

say "the configuration: two links, policy routing for eth2; the daemon runs as network-broker"
# The daemon's own user, made as the package makes it: never nobody, whose files and control socket every process
# running as nobody would share (the daemon refuses it).
id -u network-broker >/dev/null 2>&1 || systemd-sysusers "$PWD/packaging/sysusers.d/network-broker.conf"
mkdir -p "$dir/etc/routable.d" "$dir/etc/no-carrier.d"
cat > "$dir/etc/network-broker.toml" <<'TOML'
[System]
# Started as root, the daemon re-executes itself as this user with only CAP_NET_ADMIN and CAP_SYS_ADMIN.
User = "network-broker"

[Network]
Links = "eth1 eth2"
RoutingPolicyRules = "eth2"
TOML
cat > "$dir/etc/routable.d/10-announce" <<'SCRIPT'
#!/bin/sh
echo "$IFACE is routable with $IP_ADDRS (carrier: $CarrierState, online: $OnlineState)"
if [ -n "$DHCP_LEASE" ]; then
    echo "$IFACE has a DHCP lease:" $(printf '%s\n' "$DHCP_LEASE" | grep -E '^(SERVER_ADDRESS|LIFETIME)=')
fi
SCRIPT
cat > "$dir/etc/no-carrier.d/10-announce" <<'SCRIPT'
#!/bin/sh
echo "$LINK has no carrier (OperationalState=$OperationalState)"
SCRIPT
chmod 0755 "$dir"/etc/*.d/*
for f in network-broker.toml routable.d/10-announce no-carrier.d/10-announce; do
    echo "--- $f"; indent < "$dir/etc/$f"
done

# The daemon's log goes to a file, as text whatever the caller's environment says (the renderer reads it,
# and with JOURNAL_STREAM set it would go to the journal); its control socket goes in the sandbox, not in
# this machine's /run.
export RUNTIME_DIRECTORY=$dir/run-broker
# nsenter and env exec the broker (no PID namespace to enter), so $! is the broker itself.
nsenter -t "$NETWORKD_PID" -n -m env -u JOURNAL_STREAM NETWORK_EVENT_LOG_FORMAT=text NETWORK_EVENT_LOG_LEVEL=info \
    "$broker" --config "$dir/etc/network-broker.toml" > "$log" 2>&1 &
broker_pid=$!
for _ in $(seq 400); do
    [ -S "$RUNTIME_DIRECTORY/control" ] && break
    kill -0 "$broker_pid" 2>/dev/null || { echo "network-broker exited at start" >&2; exit 1; }
    sleep 0.05
done
[ -S "$RUNTIME_DIRECTORY/control" ] || { echo "timed out waiting for the daemon's control socket" >&2; exit 1; }

# The daemon's start is shown from its log (the runs of every link's current state, at the first start in
# a boot, included), once networkd's links are in and the log is quiet; the monitor attaches after that.
status_has() { "$broker" status --json --config "$dir/etc/network-broker.toml" 2>/dev/null | grep -q "$1"; }
wait_until "the daemon to read networkd's links" status_has '"networkd_links":[1-9]'
settle "$log"
say "network-broker starts in the namespace as network-broker; its log:"
sed 's/^[0-9-]*T\([0-9:.]*\)Z /\1 /' "$log" | indent
: > "$dir/monitor.txt"
mkfifo "$dir/monitor.fifo"
render < "$dir/monitor.fifo" &
render_pid=$!
"$broker" monitor 2>/dev/null > "$dir/monitor.fifo" &
monitor_pid=$!
wait_until "the monitor to attach" status_has '"monitors":1'
echo "From here on, network-broker monitor: one line per event, a script's output beneath its result."

say "flap: the peer takes eth1's carrier away, then gives it back"
n=$(seen ' eth1 scripts state=routable')
ip -n "$PEER" link set veth0 down
wait_until "eth1's no-carrier.d scripts" seen_more ' eth1 scripts state=no-carrier' 0
# networkd 252 fails a link whose carrier returns while it is still removing the address ("Nexthop has
# invalid gateway"): the carrier comes back once that is done, as it would after a real unplug.
wait_until "eth1's address to go" seen_more ' eth1 address-removed ' 0
settle
ip -n "$PEER" link set veth0 up
wait_until "eth1's routable.d scripts" seen_more ' eth1 scripts state=routable' "$n"
settle

say "a second link, eth2, is plugged in: networkd asks dnsmasq (on the peer's side) for a lease"
ip -n "$PEER" link add veth1 type veth peer name eth2
ip -n "$PEER" addr add 10.232.0.1/24 dev veth1
ip -n "$PEER" link set veth1 up
ip netns exec "$PEER" dnsmasq --keep-in-foreground --conf-file=/dev/null --port=0 --no-ping \
    --interface=veth1 --bind-interfaces --dhcp-authoritative --dhcp-leasefile="$dir/dnsmasq.leases" \
    --dhcp-range=10.232.0.50,10.232.0.99,255.255.255.0,10m --dhcp-option=option:router,10.232.0.1 \
    --log-facility="$dir/dnsmasq.log" &
dnsmasq_pid=$!
ip -n "$PEER" link set eth2 netns "$NODE"
wait_until "eth2's routable.d scripts" seen_more ' eth2 scripts state=routable' 0
wait_until "eth2's policy routing" seen_more ' policy-routing .*added=[1-9]' 0
settle

eth2=$(ip netns exec "$NODE" cat /sys/class/net/eth2/ifindex)
table=$((9999 + eth2))
say "policy routing for eth2, as the kernel has it: ip rule; ip route show table $table (RouteTableBase 9999 + ifindex $eth2)"
ip -n "$NODE" rule | indent
ip -n "$NODE" route show table "$table" | indent

say "flap: eth2 loses its carrier (its address and rules go), then gets it back (a lease again, rules again)"
ip -n "$PEER" link set veth1 down
wait_until "eth2's rules to go" seen_more ' policy-routing .*removed=[1-9]' 0
settle
n=$(seen ' policy-routing .*added=[1-9]') scripts=$(seen ' eth2 scripts state=routable')
ip -n "$PEER" link set veth1 up
wait_until "eth2's rules again" seen_more ' policy-routing .*added=[1-9]' "$n"
wait_until "eth2's routable.d scripts" seen_more ' eth2 scripts state=routable' "$scripts"
settle

# The daemon's own counters, through its control socket (status --json's stable keys).
status=$("$broker" status --json --config "$dir/etc/network-broker.toml" 2>/dev/null || true)
count() { grep -o "\"$1\":[0-9]*" <<<"$status" | head -n 1 | cut -d: -f2; }
rss=$(awk '/^VmRSS/ {print $2 / 1024}' "/proc/$broker_pid/status")
# The monitor ends at SIGTERM; its renderer at the end of the stream, once all is shown.
kill "$monitor_pid" 2>/dev/null || true
wait "$monitor_pid" "$render_pid" 2>/dev/null || true
say "summary"
printf '  events:         %s handled, %s of them ran scripts\n' "$(count events)" "$(count script_events)"
printf '  script runs:    %s, %s failed\n' "$(count scripts)" "$(count scripts_failed)"
printf '  policy routing: %s rules and %s routes in place\n' "$(count policy_rules)" "$(count policy_routes)"
printf '  daemon memory:  %.1f MB resident (VmRSS)\n' "$rss"
printf '  the demo took %.1f s\n' "$(awk "BEGIN {print $EPOCHREALTIME - $started}")"
failed=0
