#!/usr/bin/env python3
"""Where network-broker's resident memory goes: the daemon started on a fresh sandbox (bench.py's: real
systemd-networkd on a private bus), idle for --idle s (or, beside --link-pairs veth pairs, until its CPU time
stops moving), then its /proc/PID/smaps split into

  binary   the executable's own file pages (code, read-only data: touched at start, shared clean)
  libc     libc, libm, ld.so and the other shared libraries
  gc       anonymous mappings inside the GC's reservation (the largest anonymous mapping: 256 GiB of regions)
  stacks   anonymous mappings holding a thread's stack pointer (/proc/PID/task/*/syscall)
  heap     every other anonymous or private mapping ([heap], malloc arenas, the runtime's own)

with threads, fds and the GC's own account (the control socket's status, when it reports one). Each variant
(--broker NAME=PATH, --broker-env NAME=VAR=VALUE, as in bench.py) runs --reps times, the variants alternating.
Needs root. --flaps N adds the RSS after N carrier flaps at 0.5 s, with its binary, gc and heap parts.
Usage: bench/e2e/memory.py [--link-pairs 500] [--flaps 20] [--broker small=out/small/network-broker] ...
"""
import argparse, os, re, statistics, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (the sandbox, the daemon's start and the 1,000 links are bench.py's)

MAPPING = re.compile(r"^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$")


def thread_stack_pointers(pid):
    pointers = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            fields = open(f"/proc/{pid}/task/{tid}/syscall").read().split()
        except OSError:
            continue
        # "nr arg1..arg6 sp pc" while blocked in a system call; "running" otherwise.
        if len(fields) >= 3 and fields[0] not in ("running", "-1"):
            pointers.append(int(fields[-2], 16))
    return pointers


def breakdown(pid, binary):
    """kB resident per category, and the rollup's totals."""
    pointers = thread_stack_pointers(pid)
    mappings = []
    current = None
    for line in open(f"/proc/{pid}/smaps"):
        match = MAPPING.match(line)
        if match:
            current = {"start": int(match[1], 16), "end": int(match[2], 16), "name": match[3].strip(), "rss": 0}
            mappings.append(current)
        elif line.startswith("Rss:"):
            current["rss"] = int(line.split()[1])
    anonymous = [m for m in mappings if not m["name"] or m["name"].startswith("[anon")]
    reservation = max(anonymous, key=lambda m: m["end"] - m["start"]) if anonymous else None
    # The GC reserves its regions as one range and commits parts of it: every mapping inside it is the GC's.
    gc_low, gc_high = None, None
    if reservation and reservation["end"] - reservation["start"] >= 1 << 30:
        gc_low, gc_high = reservation["start"], reservation["end"]
        # Committed parts split the range into several mappings: take the whole span of adjacent anonymous ones.
        for m in sorted(anonymous, key=lambda m: m["start"], reverse=True):
            if m["end"] == gc_low:
                gc_low = m["start"]
        for m in sorted(anonymous, key=lambda m: m["start"]):
            if m["start"] == gc_high:
                gc_high = m["end"]
    totals = {"binary": 0, "libc": 0, "gc": 0, "stacks": 0, "heap": 0}
    for m in mappings:
        name = m["name"]
        if name == binary or (name and os.path.basename(name) == os.path.basename(binary)):
            totals["binary"] += m["rss"]
        elif name.startswith("/"):
            totals["libc"] += m["rss"]
        elif any(m["start"] <= sp < m["end"] for sp in pointers) or name == "[stack]":
            totals["stacks"] += m["rss"]
        elif gc_low is not None and gc_low <= m["start"] < gc_high:
            totals["gc"] += m["rss"]
        else:
            totals["heap"] += m["rss"]
    rollup = {}
    for line in open(f"/proc/{pid}/smaps_rollup"):
        parts = line.split()
        if len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
            rollup[parts[0][:-1]] = int(parts[1])
    totals.update(rss=rollup.get("Rss", 0), pss=rollup.get("Pss", 0), private_dirty=rollup.get("Private_Dirty", 0),
                  private_clean=rollup.get("Private_Clean", 0), shared_clean=rollup.get("Shared_Clean", 0),
                  anonymous=rollup.get("Anonymous", 0))
    stats = bench.proc_stats(pid)
    totals.update(threads=stats["threads"], fds=stats["fds"], hwm=stats["hwm"])
    totals["thread_names"] = sorted(open(f"/proc/{pid}/task/{t}/comm").read().strip() for t in os.listdir(f"/proc/{pid}/task"))
    return totals


def measure(kind, idle, pairs, flaps, tag):
    sandbox = bench.Sandbox(tag)
    try:
        config = ""
        if pairs:
            bench.add_links(sandbox, pairs, pairs // 2)
            before = -1
            while len(sandbox.monitor_lines()) != before:
                before = len(sandbox.monitor_lines())
                time.sleep(3)
            config = 'RoutingPolicyRules = "nbp*"\n'
        daemon, _, ready = bench.start(kind, sandbox, tag, broker_config=config)
        if pairs:
            bench.settle(daemon.pid)
        else:
            time.sleep(idle)
        result = breakdown(daemon.pid, bench.BROKERS[kind])
        result["ready"] = ready
        if flaps:
            sandbox.flap(flaps, 0.5)
            time.sleep(2)
            # What the flaps added, by the same split: the binary's pages the event path touched, the GC's gen0.
            after = breakdown(daemon.pid, bench.BROKERS[kind])
            for c in AFTER_COLUMNS:
                result[c] = after[c.removeprefix("after_")] if c != "after" else after["rss"]
        daemon.terminate()
        daemon.wait(timeout=30)
        return result
    finally:
        sandbox.close()


COLUMNS = ("rss", "binary", "libc", "gc", "heap", "stacks", "private_dirty", "threads", "hwm")
AFTER_COLUMNS = ("after", "after_binary", "after_gc", "after_heap")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--broker", action="append", default=[], metavar="NAME=PATH")
    parser.add_argument("--broker-env", action="append", default=[], metavar="NAME=VAR=VALUE")
    parser.add_argument("--daemons", help="the variants to run, default network-broker and every --broker")
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--idle", type=float, default=2.0, help="seconds after READY before measuring")
    parser.add_argument("--link-pairs", type=int, default=0, help="veth pairs beside the sandbox (500: 1,000 links)")
    parser.add_argument("--flaps", type=int, default=0, help="then this many carrier flaps at 0.5 s, and the RSS after them")
    parser.add_argument("--verbose", action="store_true", help="print the threads' names")
    args = parser.parse_args()
    for entry in args.broker:
        name, path = entry.split("=", 1)
        bench.BROKERS[name] = os.path.abspath(path)
    for entry in args.broker_env:
        name, variable, value = entry.split("=", 2)
        bench.BROKERS.setdefault(name, bench.BROKERS["network-broker"])
        bench.BROKER_ENV.setdefault(name, {})[variable] = value
    kinds = args.daemons.split(",") if args.daemons else list(bench.BROKERS)
    results = {kind: [] for kind in kinds}
    for rep in range(args.reps):
        for kind in kinds[rep % len(kinds):] + kinds[:rep % len(kinds)]:
            result = measure(kind, args.idle, args.link_pairs, args.flaps, f"m{os.getpid()}-{rep}")
            results[kind].append(result)
            print(f"[{rep + 1}/{args.reps}] {kind}: " + ", ".join(f"{c} {result[c]}" for c in COLUMNS + AFTER_COLUMNS if c in result), flush=True)
            if args.verbose:
                print("  threads: " + ", ".join(result["thread_names"]), flush=True)
    columns = COLUMNS + (AFTER_COLUMNS if args.flaps else ())
    print(f"\n| variant | {' | '.join(columns)} |  (MB, median of {args.reps}; threads a count)")
    print("|---|" + "---|" * len(columns))
    for kind in kinds:
        cells = []
        for c in columns:
            value = statistics.median(r[c] for r in results[kind])
            cells.append(f"{value:.0f}" if c == "threads" else f"{value / 1024:.2f}")
        print(f"| {kind} | {' | '.join(cells)} |")


if __name__ == "__main__":
    sys.exit(main())
