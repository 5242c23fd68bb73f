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


def faults(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(fields[7]), int(fields[9])  # minflt, majflt


def served_runs(record):
    return sum(1 for _ in open(record)) if os.path.exists(record) else 0


def measure(name, binary, flaps, spacing, tag):
    if name != "floor":
        bench.BROKERS[name] = os.path.abspath(binary)
    sandbox = bench.Sandbox(tag)
    try:
        daemon, record, ready = bench.start(name, sandbox, tag)
        if ready is None:
            raise RuntimeError(f"{name} did not become ready")
        time.sleep(2)
        out = f"{sandbox.dir}/trace-{tag}.txt"
        trace = subprocess.Popen(["perf", "trace", "-s", "-o", out, "-p", str(daemon.pid)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.5)
        before_runs, before_faults = served_runs(record), faults(daemon.pid)
        sandbox.flap(flaps, spacing)
        bench.wait_quiet(sandbox, record, quiet=2)
        served, after_faults = served_runs(record) - before_runs, faults(daemon.pid)
        trace.send_signal(signal.SIGINT)
        try:
            trace.wait(timeout=60)
        except subprocess.TimeoutExpired:
            # perf trace has been seen to spin after SIGINT; what it wrote so far is still read.
            trace.kill()
            trace.wait()
        daemon.kill()
        daemon.wait()
        calls = collections.Counter()
        for line in open(out):
            match = ROW.match(line)
            if match:
                calls[match.group(1)] += int(match.group(2))
        return served, calls, after_faults[0] - before_faults[0], after_faults[1] - before_faults[1]
    finally:
        sandbox.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--flaps", type=int, default=30)
    parser.add_argument("--spacing", type=float, default=0.5)
    parser.add_argument("--reps", type=int, default=1)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("binaries", nargs="+", help="NAME=PATH (floor=- for the floor)")
    args = parser.parse_args()
    for rep in range(args.reps):
        for i, binary in enumerate(args.binaries):
            name, path = binary.split("=", 1)
            served, calls, minor, major = measure(name, path, args.flaps, args.spacing, f"sc{os.getpid()}-{rep}-{i}")
            runs = max(served, 1)
            total = sum(calls.values())
            print(f"[{rep + 1}] {name}: served {served}; per served run: {total / runs:.1f} system calls, "
                  f"{minor / runs:.1f} minor faults, {major / runs:.2f} major faults")
            print("    " + ", ".join(f"{call} {count / runs:.1f}" for call, count in calls.most_common(args.top)), flush=True)


if __name__ == "__main__":
    sys.exit(main())
