#!/usr/bin/env bash
# The one line "N passed, N failed" over every test project, totalled from the TRX result files (dotnet's
# own summary lines are per project), and the verdict of the whole run as the exit status:
#   test-totals.sh DIR [STATUS]   DIR holds the *.trx files; STATUS is `dotnet test`'s exit status.
# Exits 1 when STATUS is not 0 (a project that crashed or did not build leaves no failed test to count: with
# STATUS not 0, each test project under tests/ that left no result file counts as one failed, and is named),
# when a test failed, errored, timed out or was aborted, or when no test passed at all.
# Used by `make unit-test` (so `make test`) and, through it, by .ci/run.
set -uo pipefail
dir=$1
status=${2:-0}

passed=0
failed=0
shopt -s nullglob
for trx in "$dir"/*.trx; do
    counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n 1)
    # A counter that is missing (a run cut short) counts 0; the exit status of the run says the rest.
    attr() { local value; value=$(sed -n "s/.* $1=\"\([0-9]*\)\".*/\1/p" <<<"$counters"); echo "${value:-0}"; }
    passed=$((passed + $(attr passed)))
    failed=$((failed + $(attr failed) + $(attr error) + $(attr timeout) + $(attr aborted)))
done

# A project that did not build or crashed before writing its results: one failure each, said before the totals.
if [ "$status" -ne 0 ]; then
    trx_files=("$dir"/*.trx)
    projects=("$(dirname "$0")"/../tests/*/*.csproj)
    missing=$((${#projects[@]} - ${#trx_files[@]}))
    if [ "$missing" -gt 0 ]; then
        echo "$missing of ${#projects[@]} test projects left no results (did not build, or crashed): counted as failed" >&2
        failed=$((failed + missing))
    fi
fi

echo "$passed passed, $failed failed"
if [ "$status" -ne 0 ] || [ "$failed" -ne 0 ] || [ "$passed" -eq 0 ]; then
    exit 1
fi
exit 0
