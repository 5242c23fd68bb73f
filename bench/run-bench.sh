#!/usr/bin/env bash
# `make bench`: runs the benchmarks and writes bench/results/<date>.md:
# - the rtnetlink codec (BenchmarkDotNet, decoding 10,000-message dumps built from real kernel bytes);
# - end to end on the real systemd-networkd (bench/e2e/bench.py): the floor (bench/floor/floor.c, built
#   here), network-broker and Debian's networkd-dispatcher, alternating, BENCH_REPS repetitions (default 3)
#   of flaps at 0.5 s, 20 ms and 0 s spacing (BENCH_FLAPS, default 100,300,300), then each beside 1,000
#   more links; about 20 minutes. BENCH_ARGS passes more options (bench/e2e/bench.py --help).
set -euo pipefail
cd "$(dirname "$0")/.."
date=$(date -u +%Y-%m-%d)
out=bench/results/$date.md
artifacts=$(mktemp -d /tmp/network-broker-bench.XXXXXX)
trap 'rm -rf "$artifacts"' EXIT

dotnet run -c Release --project bench/NetworkBroker.Benchmarks -- --filter '*' --job short \
    --exporters github --artifacts "$artifacts"

{
    echo "# Benchmarks, $date"
    echo
    echo "Machine: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(nproc) cores, $(free -m | awk '/^Mem:/ {print $2}') MiB,"
    echo "$(uname -r), $(dotnet --version) SDK, $(/lib/systemd/systemd-networkd --version 2>/dev/null | head -1 || true)."
    echo
    echo "## rtnetlink codec"
    echo
    echo "Decoding one stream of 10,000 messages built from bytes a real kernel sent"
    echo "(tests/NetworkBroker.Tests/Fixtures/netlink); divide by 10,000 for one message."
    echo
    sed -n '/^| Method/,/^$/p' "$artifacts"/results/*NetlinkDumpDecoding-report-github.md
} > "$out"

make --no-print-directory build
cc -O2 -Wall -Wextra -o bench/floor/floor bench/floor/floor.c $(pkg-config --cflags --libs libsystemd)
# shellcheck disable=SC2086
/usr/bin/python3 bench/e2e/bench.py --flaps "${BENCH_FLAPS:-100,300,300}" --reps "${BENCH_REPS:-3}" --out "$out" ${BENCH_ARGS:-}
echo "wrote $out"
