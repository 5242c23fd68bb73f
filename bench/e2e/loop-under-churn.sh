#!/bin/bash
# The loop never waits: 200,000 routes in the main table, 50 RoutingPolicyRules= links whose addresses churn
# for 10 s; meanwhile `status` round trips over the control socket are timed (every 50 ms), and the daemon's
# CPU for the churn and 3 s of settling is read from /proc. Needs root; everything is in its own namespace.
# Usage: bench/e2e/loop-under-churn.sh   (NETWORK_BROKER_BIN= the binary, default bin/network-broker)
set -e
bin=$(realpath "${NETWORK_BROKER_BIN:-bin/network-broker}")
WORK=${WORK:-/tmp/nb-loop-bench}
mkdir -p "$WORK" && cd "$WORK"
ns=nblb; ip netns del $ns 2>/dev/null || true; ip netns add $ns
ip -n $ns link set lo up
for i in $(seq 1 50); do ip -n $ns link add v$i type veth peer name p$i; ip -n $ns link set v$i up; ip -n $ns link set p$i up; ip -n $ns addr add 10.$((i/250)).$((i%250)).1/24 dev v$i; done
ip -n $ns route add default via 10.0.1.2 dev v1
CONTROL=$WORK/run/control python3 - <<'PY' > routes.batch
for i in range(200000):
    print(f"route add 100.{(i>>16)&255}.{(i>>8)&255}.{i&255}/32 dev v1")
PY
time ip -n $ns -batch routes.batch
rm -rf run; mkdir -p run cfg; printf '[System]\nUser = "root"\nGenerator = "dhclient"\nDHClientLeaseFile = "%s/none/*.leases"\n[Network]\nRoutingPolicyRules = "v*"\n' "$WORK" > cfg/nb.toml
RUNTIME_DIRECTORY=$WORK/run ip netns exec $ns "$bin" --config $WORK/cfg/nb.toml > daemon.log 2>&1 &
sleep 8
pid=$(pgrep -f -- "--config $WORK/cfg/nb.toml" | head -1)
cpu0=$(awk '{print $14+$15}' /proc/$pid/stat)
( end=$((SECONDS+10)); n=0; exec >churn.out 2>&1; while [ $SECONDS -lt $end ]; do i=$((n%50+1)); ip -n $ns addr add 10.$((i/250)).$((i%250)).$((n%200+20))/24 dev v$i 2>/dev/null || true; ip -n $ns addr del 10.$((i/250)).$((i%250)).$(((n+100)%200+20))/24 dev v$i 2>/dev/null || true; n=$((n+1)); done; echo "churn ops $n" ) &
CONTROL=$WORK/run/control python3 - <<'PY'
import os, socket, time
lat=[]
end=time.time()+12
while time.time()<end:
    s=socket.socket(socket.AF_UNIX); t=time.perf_counter(); s.connect(os.environ["CONTROL"]); s.sendall(b"status\n"); d=b""
    while not d.endswith(b"\n"):
        c=s.recv(65536)
        if not c: break
        d+=c
    lat.append((time.perf_counter()-t)*1000); s.close(); time.sleep(0.05)
lat.sort(); print(f"status n={len(lat)} p50={lat[len(lat)//2]:.1f} ms p99={lat[int(len(lat)*0.99)]:.1f} ms max={lat[-1]:.1f} ms")
PY
wait %2 2>/dev/null || true
sleep 3
cpu1=$(awk '{print $14+$15}' /proc/$pid/stat)
echo "daemon CPU during churn+settle: $(( (cpu1-cpu0)*10 )) ms; RSS $(grep VmRSS /proc/$pid/status)"
echo "rules: $(ip -n $ns rule | grep -c 'proto 250\|network-broker')"
kill $pid; sleep 1; ip netns del $ns
