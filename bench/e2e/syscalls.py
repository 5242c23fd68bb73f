#!/usr/bin/env python3
"""System calls and page faults per served run: one daemon on a sandbox of bench.py (real systemd-networkd), N carrier
flaps at a spacing, `perf trace -s` attached over exactly those flaps (every thread of the daemon; the scripts it starts
are not followed), and the daemon's minor faults from /proc/PID/stat, divided by the runs served. On a virtual machine a
kernel entry and a fault cost far more than on bare metal, and their count repeats where CPU time does not. NAME=PATH
gives a network-broker build; the name `floor` gives bench/floor/floor. Needs perf.

    bench/e2e/syscalls.py --flaps 30 --spacing 0.5 floor=- new=bin/network-broker
"""
import argparse, collections, os, re, signal, subprocess, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402

# perf trace -s: "   statx   61   0   0.123 ..." under each thread's heading.
ROW = re.compile(r"^\s+([a-z_0-9]+)\s+(\d+)\s+\d+\s+[\d.]+")
# perf trace -s: " dbus-reader (1234), 567 events, 12.3%" heads each thread's rows.
THREAD = re.compile(r"^\s*(\S.*?) \((\d+)\), \d+ events")


def faults(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(fields[7]), int(fields[9])  # minflt, majflt


def measure(name, binary, flaps, spacing, tag):
    if name != "floor":
        bench.BROKERS[name] = os.path.abspath(binary)
    trace = {}

    def before(daemon, sandbox):
        trace["out"] = f"{sandbox.dir}/trace-{tag}.txt"
        trace["perf"] = subprocess.Popen(["perf", "trace", "-s", "-o", trace["out"], "-p", str(daemon.pid)],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.5)
        return faults(daemon.pid)

    def after(daemon):
        counted = faults(daemon.pid)
        trace["perf"].send_signal(signal.SIGINT)
        try:
            trace["perf"].wait(timeout=60)
        except subprocess.TimeoutExpired:
            # perf trace has been seen to spin after SIGINT; what it wrote so far is still read.
            trace["perf"].kill()
            trace["perf"].wait()
        calls = collections.Counter()
        thread = "?"
        for line in open(trace["out"]):
            heading = THREAD.match(line)
            if heading:
                thread = heading.group(1)
                continue
            match = ROW.match(line)
            if match:
                calls[(thread, match.group(1))] += int(match.group(2))
        return counted, calls

    served, (minor, major), ((minor_after, major_after), calls) = bench.over_flaps(name, flaps, spacing, tag, before, after, settle=2)
    return served, calls, minor_after - minor, major_after - major


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--flaps", type=int, default=30)
    parser.add_argument("--spacing", type=float, default=0.5)
    parser.add_argument("--reps", type=int, default=1)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--by-thread", action="store_true", help="also each thread's system calls per served run")
    parser.add_argument("binaries", nargs="+", help="NAME=PATH (floor=- for the floor)")
    args = parser.parse_args()
    bench.need_perf()
    for rep in range(args.reps):
        for i, binary in enumerate(args.binaries):
            name, path = binary.split("=", 1)
            served, calls, minor, major = measure(name, path, args.flaps, args.spacing, f"sc{os.getpid()}-{rep}-{i}")
            runs = max(served, 1)
            total = sum(calls.values())
            by_call = collections.Counter()
            by_thread = collections.defaultdict(collections.Counter)
            for (thread, call), count in calls.items():
                by_call[call] += count
                by_thread[thread][call] += count
            print(f"[{rep + 1}] {name}: served {served}; per served run: {total / runs:.1f} system calls, "
                  f"{minor / runs:.1f} minor faults, {major / runs:.2f} major faults")
            print("    " + ", ".join(f"{call} {count / runs:.1f}" for call, count in by_call.most_common(args.top)), flush=True)
            if args.by_thread:
                for thread, counts in sorted(by_thread.items(), key=lambda item: -sum(item[1].values())):
                    print(f"    {thread}: {sum(counts.values()) / runs:.1f}: "
                          + ", ".join(f"{call} {count / runs:.1f}" for call, count in counts.most_common(args.top)), flush=True)


if __name__ == "__main__":
    sys.exit(main())
