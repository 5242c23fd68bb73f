#!/usr/bin/env bash
# `make bench`: runs the benchmarks and writes bench/results/<date>.md:
# - the rtnetlink codec (BenchmarkDotNet, decoding 10,000-message dumps built from real kernel bytes);
# - end to end against Debian's networkd-dispatcher on the real systemd-networkd (bench/e2e/bench.py):
#   BENCH_FLAPS flaps (default 300) at 0.5 s, 20 ms and 0 s spacing; about 12 minutes.
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
    echo "Machine: $(nproc) cores, $(uname -r), $(dotnet --version) SDK."
    echo
    echo "## rtnetlink codec"
    echo
    echo "Decoding one stream of 10,000 messages built from bytes a real kernel sent"
    echo "(tests/NetworkBroker.Tests/Fixtures/netlink); divide by 10,000 for one message."
    echo
    sed -n '/^| Method/,/^$/p' "$artifacts"/results/*NetlinkDumpDecoding-report-github.md
} > "$out"

make --no-print-directory build
/usr/bin/python3 bench/e2e/bench.py --flaps "${BENCH_FLAPS:-300}" --out "$out"
echo "wrote $out"
