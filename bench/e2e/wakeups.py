#!/usr/bin/env python3
"""Which of the daemon's threads wakes which, and from where, per served run: one network-broker on a sandbox of
bench.py (real systemd-networkd), N carrier flaps at a spacing, and over exactly those flaps `perf record` of the
scheduler's wake-up tracepoint with the waker's stack (DWARF unwinding: libc has no frame pointers). Counted are
the wake-ups of one daemon thread by another; each line is a waker -> wakee pair with the first frames of ours
(or the runtime's threading code) on the waker's stack, per served run. Needs perf, and the binary's symbols where
perf finds them (copy out/publish/network-broker.dbg to /usr/lib/debug/.build-id/xx/rest.debug, xx/rest being
its build ID from `readelf -n`).

    bench/e2e/wakeups.py --flaps 10 --spacing 0.5 bin/network-broker
"""
import argparse, collections, os, re, signal, subprocess, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402

OURS = re.compile(r"network_broker|NetworkBroker|S_P_CoreLib_System_Threading_(Timer|Tasks_Task__|ThreadPool|PortableThreadPool|Channels)")


def record(binary, flaps, spacing, out):
    bench.BROKERS["wakeups"] = binary
    sandbox = bench.Sandbox(f"w{os.getpid()}")
    try:
        daemon, runs, ready = bench.start("wakeups", sandbox, "w")
        if ready is None:
            raise RuntimeError("the daemon did not become ready")
        time.sleep(6)
        offset = len(sandbox.monitor_lines())
        perf = subprocess.Popen(["perf", "record", "-q", "-e", "sched:sched_wakeup", "--call-graph", "dwarf,16384",
                                 "-o", out, "-p", str(daemon.pid)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        sandbox.flap(flaps, spacing)
        bench.wait_quiet(sandbox, runs, quiet=2)
        perf.send_signal(signal.SIGINT)
        perf.wait()
        threads = {open(f"/proc/{daemon.pid}/task/{t}/comm").read().strip() for t in os.listdir(f"/proc/{daemon.pid}/task")}
        served = bench.analyse(sandbox, runs, offset)
        daemon.terminate()
        daemon.wait(timeout=30)
        return served, threads
    finally:
        sandbox.close()


def wakeups(out, threads):
    """(waker, wakee, frames) of each wake-up of one daemon thread by another."""
    text = subprocess.run(["perf", "script", "-i", out, "-F", "comm,tid,event,trace,ip,sym"], capture_output=True, text=True).stdout
    for block in text.split("\n\n"):
        lines = block.strip().splitlines()
        match = re.match(r"^(.*?)\s+\d+\s+sched:sched_wakeup: comm=(.*?) pid=", lines[0]) if lines else None
        if not match or match.group(1).strip() not in threads or match.group(2) not in threads:
            continue
        frames = [re.sub(r"\+0x[0-9a-f]+$", "", line.split(None, 1)[1].strip()) for line in lines[1:] if len(line.split(None, 1)) == 2]
        yield match.group(1).strip(), match.group(2), [f for f in frames if OURS.search(f)][:3]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--flaps", type=int, default=10)
    parser.add_argument("--spacing", type=float, default=0.5)
    parser.add_argument("--out", default="/tmp/network-broker-wakeups.data")
    parser.add_argument("binary")
    args = parser.parse_args()
    bench.need_perf()
    served, threads = record(os.path.abspath(args.binary), args.flaps, args.spacing, args.out)
    runs = served.get("served") or 1
    pairs, sites = collections.Counter(), collections.Counter()
    for waker, wakee, frames in wakeups(args.out, threads):
        pairs[(waker, wakee)] += 1
        sites[(waker, wakee, " < ".join(f[:110] for f in frames))] += 1
    print(f"served {served.get('served')}, missed {served.get('missed')}; wake-ups of a daemon thread by another per served run: "
          f"{sum(pairs.values()) / runs:.1f}")
    for (waker, wakee), count in pairs.most_common():
        print(f"{count / runs:6.2f} {waker} -> {wakee}")
    print("\nwhere:")
    for (waker, wakee, frames), count in sites.most_common(25):
        print(f"{count / runs:6.2f} {waker} -> {wakee}: {frames}")


if __name__ == "__main__":
    main()
