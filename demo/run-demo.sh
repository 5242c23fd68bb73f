#!/usr/bin/env bash
# `make demo`: shows the script runner on built-in example events.
# It runs bin/network-broker's `run-scripts` (the synthesised event the daemon would send) against
# two example scripts in a throw-away configuration directory, then removes it (also on Ctrl-C).
set -euo pipefail
cd "$(dirname "$0")/.."
broker=bin/network-broker
work=$(mktemp -d /tmp/network-broker-demo.XXXXXX)
trap 'rm -rf "$work"' EXIT INT TERM

mkdir -p "$work/routable.d" "$work/no-carrier.d"
cat > "$work/routable.d/10-announce" <<'SCRIPT'
#!/bin/sh
echo "link $LINK (ifindex $LINKINDEX) is $STATE; OperationalState=$OperationalState"
SCRIPT
cat > "$work/no-carrier.d/10-announce" <<'SCRIPT'
#!/bin/sh
echo "link $LINK lost its carrier" >&2
exit 1
SCRIPT
cat > "$work/routable.d/20-slow" <<'SCRIPT'
#!/bin/sh
echo "this script hangs; ScriptTimeoutSec=2 will kill it"
sleep 60
SCRIPT
chmod 0755 "$work"/*.d/*
printf '[System]\nScriptTimeoutSec = 2\n' > "$work/network-broker.toml"

echo "== configuration ($work/network-broker.toml)"
"$broker" check-config --config "$work/network-broker.toml"
echo
echo "== event: lo became routable"
"$broker" run-scripts --config "$work/network-broker.toml" --link lo --state routable --env OperationalState=routable || true
echo
echo "== event: lo lost its carrier"
"$broker" run-scripts --config "$work/network-broker.toml" --link lo --state no-carrier --env OperationalState=no-carrier || true
