#!/usr/bin/env python3
"""The daemon's CPU per served run, repeatably: one network-broker on a sandbox of bench.py (real
systemd-networkd), N carrier flaps at a spacing, and over exactly those flaps `perf stat` on the daemon's
threads, not its scripts': the CPU its threads ran (schedstat, in ns: a thread that ended during the
flaps is lost, hence the thread counts before and after) and the /proc user+system ticks (10 ms each, but
every thread's), context switches, and the syscalls counted by their tracepoints (`perf record -c 1`,
only the daemon's pid counted, with --count: the counting costs CPU, so measure CPU without it). Several binaries (NAME=PATH) alternate, each on a fresh sandbox, --reps times.

    bench/e2e/cpu-per-run.py [--tmpfs] --flaps 40 --spacing 0.25 --reps 3 base=/tmp/nb-base new=bin/network-broker
"""
import argparse, os, re, signal, statistics, subprocess, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402

SYSCALLS = ("statx", "newfstatat", "openat", "read", "close", "getdents64", "rename", "socketpair", "epoll_ctl", "fcntl", "sched_yield", "futex")


def thread_clock(pid):
    """The nanoseconds the daemon's live threads ran (/proc/PID/task/*/schedstat)."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            total += int(open(f"/proc/{pid}/task/{task}/schedstat").read().split()[0])
        except OSError:
            pass
    return total


def measure(name, binary, flaps, spacing, tag, tmpfs, count):
    bench.BROKERS[name] = os.path.abspath(binary)
    sandbox = bench.Sandbox(tag)
    runtime = f"{sandbox.dir}/run-broker"
    if tmpfs:
        # As deployed: the runtime directory (the restart memory's file) is on /run, a tmpfs.
        # In networkd's mount namespace, which the daemon joins (a private one: a mount out here is not seen there).
        os.makedirs(runtime)
        subprocess.run(["nsenter", "-t", str(sandbox.networkd_pid), "-m", "mount", "-t", "tmpfs", "-o", "size=4m,mode=0755",
                        f"nb-{tag}", runtime], check=True)
    try:
        daemon, record, ready = bench.start(name, sandbox, tag)
        if ready is None:
            raise RuntimeError(f"{name} did not become ready")
        time.sleep(1.5)
        idle = bench.proc_stats(daemon.pid)
        offset = len(sandbox.monitor_lines())
        events = ",".join(["context-switches"] + [f"syscalls:sys_enter_{s}" for s in SYSCALLS])
        out = f"{sandbox.dir}/perf-{name}.data"
        # Every event sampled (-c 1), the scripts' too (they inherit the counters): only the daemon's pid is counted.
        perf = subprocess.Popen(["perf", "record", "-q", "-c", "1", "-o", out, "-e", events, "-p", str(daemon.pid)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) if count else None
        time.sleep(0.5)
        clock = thread_clock(daemon.pid)
        sandbox.flap(flaps, spacing)
        bench.wait_quiet(sandbox, record, quiet=2)
        clock = thread_clock(daemon.pid) - clock
        after = bench.proc_stats(daemon.pid)
        if perf:
            perf.send_signal(signal.SIGINT)
            perf.wait()
        daemon.terminate()
        daemon.wait(timeout=30)
        served = bench.analyse(sandbox, record, offset)
        counters = {"task-clock": clock / 1e6}
        script = subprocess.run(["perf", "script", "-i", out, "-F", "pid,event"], capture_output=True, text=True).stdout if count else ""
        for line in script.splitlines():
            parts = line.split()
            if len(parts) >= 2 and parts[0] == str(daemon.pid):
                key = re.sub(r"^syscalls:sys_enter_", "", parts[1].rstrip(":"))
                counters[key] = counters.get(key, 0) + 1
        return {"name": name, "served": served.get("served", 0), "missed": served.get("missed"),
                "ticks_ms": (after["cpu"] - idle["cpu"]) * 1000,
                "threads": f'{idle["threads"]}->{after["threads"]}', **counters}
    finally:
        if tmpfs:
            subprocess.run(["nsenter", "-t", str(sandbox.networkd_pid), "-m", "umount", runtime])
        sandbox.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--flaps", type=int, default=40)
    parser.add_argument("--spacing", type=float, default=0.25)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--count", action="store_true", help="count syscalls and context switches (perf's sampling costs CPU too)")
    parser.add_argument("--tmpfs", action="store_true", help="the runtime directory on a tmpfs, as /run is")
    parser.add_argument("binaries", nargs="+", help="NAME=PATH, or NAME=PATH=tmpfs for that one on a tmpfs")
    args = parser.parse_args()
    if args.count:
        bench.need_perf()
    binaries = [(b.split("=")[0], b.split("=")[1], args.tmpfs or b.endswith("=tmpfs")) for b in args.binaries]
    rows = []
    for rep in range(args.reps):
        order = binaries[rep % len(binaries):] + binaries[:rep % len(binaries)]
        for name, path, tmpfs in order:
            row = measure(name, path, args.flaps, args.spacing, f"cpu{os.getpid()}{len(rows)}", tmpfs, args.count)
            rows.append(row)
            served = row["served"] or 1
            print(f"[{rep + 1}] {name}: served {row['served']} missed {row['missed']} threads {row['threads']}; per served run: "
                  f"task-clock {row.get('task-clock', 0) / served:.3f} ms, ticks {row['ticks_ms'] / served:.2f} ms, "
                  + ", ".join(f"{k} {row.get(k, 0) / served:.1f}" for k in ("context-switches",) + SYSCALLS), flush=True)
    print("\nmedian per served run:")
    for name, _, _ in binaries:
        mine = [r for r in rows if r["name"] == name]
        def med(key):
            return statistics.median(r.get(key, 0) / (r["served"] or 1) for r in mine)
        print(f"{name}: task-clock {med('task-clock'):.3f} ms, ticks {med('ticks_ms'):.2f} ms, "
              + ", ".join(f"{k} {med(k):.1f}" for k in ("context-switches",) + SYSCALLS))


if __name__ == "__main__":
    main()
