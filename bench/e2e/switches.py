#!/usr/bin/env python3
"""Thread switches per served run, by thread: one network-broker on a sandbox of bench.py (real systemd-networkd),
N carrier flaps at a spacing, and the daemon's threads' voluntary + involuntary context switches over exactly those
flaps (/proc/PID/task/*/status), and their CPU (/proc/PID/task/*/schedstat), divided by the runs served. A switch is cheap on bare metal and costly on a virtual
machine; their count is repeatable where CPU time on a shared machine is not. Several binaries (NAME=PATH) alternate,
each on a fresh sandbox, --reps times.

    bench/e2e/switches.py --flaps 30 --spacing 0.25 --reps 2 base=/tmp/nb-base new=bin/network-broker
"""
import argparse, collections, os, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402


def per_thread(pid):
    """Switches and CPU (ns, from schedstat) by thread name."""
    switches = collections.Counter()
    cpu = collections.Counter()
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            comm = open(f"/proc/{pid}/task/{task}/comm").read().strip()
            status = dict(line.split(":\t", 1) for line in open(f"/proc/{pid}/task/{task}/status").read().splitlines() if ":\t" in line)
            switches[comm] += int(status["voluntary_ctxt_switches"]) + int(status["nonvoluntary_ctxt_switches"])
            cpu[comm] += int(open(f"/proc/{pid}/task/{task}/schedstat").read().split()[0])
        except OSError:
            pass
    return switches, cpu


def measure(name, binary, flaps, spacing, tag):
    bench.BROKERS[name] = os.path.abspath(binary)
    served, before, after = bench.over_flaps(name, flaps, spacing, tag, lambda daemon, _: per_thread(daemon.pid),
                                             lambda daemon: per_thread(daemon.pid))
    # A thread that ended during the flaps is lost; one that began counts from 0.
    return (served, {comm: after[0][comm] - before[0].get(comm, 0) for comm in after[0]},
            {comm: after[1][comm] - before[1].get(comm, 0) for comm in after[1]})


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--flaps", type=int, default=30)
    parser.add_argument("--spacing", type=float, default=0.25)
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("binaries", nargs="+", help="NAME=PATH")
    args = parser.parse_args()
    totals = collections.defaultdict(list)
    cpus = collections.defaultdict(list)
    for rep in range(args.reps):
        for i, binary in enumerate(args.binaries):
            name, path = binary.split("=", 1)
            served, switches, cpu = measure(name, path, args.flaps, args.spacing, f"sw{os.getpid()}-{rep}-{i}")
            per_run = {comm: count / max(served, 1) for comm, count in switches.items() if count}
            cpu_per_run = {comm: ns / 1e6 / max(served, 1) for comm, ns in cpu.items() if ns}
            total = sum(per_run.values())
            total_cpu = sum(cpu_per_run.values())
            totals[name].append(total)
            cpus[name].append(total_cpu)
            print(f"[{rep + 1}] {name}: served {served}, switches per served run {total:.1f}: "
                  + ", ".join(f"{comm} {count:.1f}" for comm, count in sorted(per_run.items(), key=lambda x: -x[1])), flush=True)
            print(f"    CPU per served run {total_cpu:.2f} ms: "
                  + ", ".join(f"{comm} {ms:.2f}" for comm, ms in sorted(cpu_per_run.items(), key=lambda x: -x[1])), flush=True)
    print("\nper served run, each repetition (switches; CPU ms):")
    for name, values in totals.items():
        print(f"{name}: " + " / ".join(f"{v:.1f}" for v in values) + "; " + " / ".join(f"{v:.2f}" for v in cpus[name]))


if __name__ == "__main__":
    sys.exit(main())
