#!/usr/bin/env python3
"""Where the time between networkd's signal and a script's start goes: one daemon on a sandbox of bench.py (real
systemd-networkd), N carrier flaps at a spacing, and over exactly those flaps `perf record` of every system call's
entry and exit in the daemon (raw_syscalls; the scripts it starts are left out). For each script started (the spawn's
clone3 or clone, entered by the daemon) it takes:

  signal -> spawn   from the last D-Bus message the daemon received (recvmsg's return) to the spawn's entry;
  wake -> spawn     (network-broker) from the script thread's last wake-up (epoll_wait's return) to the spawn;
  spawn -> exec     from the child's first return to its execve's return (the same for every daemon: the kernel
                    loads bash then);
  syscalls          the system calls of the script thread between its wake-up and the spawn, by name.

Medians and p90 over the runs. NAME=PATH gives a network-broker build; the name `floor` gives bench/floor/floor.
The counts are exact; the times carry perf's own cost, alike for every daemon. Needs perf.

    bench/e2e/critical-path.py --flaps 20 --spacing 0.5 floor=- new=bin/network-broker
"""
import argparse, collections, os, re, signal, statistics, subprocess, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402

# x86-64 system call numbers of the calls on the way to a spawn.
NAMES = {0: "read", 1: "write", 3: "close", 7: "poll", 9: "mmap", 11: "munmap", 13: "rt_sigaction", 14: "rt_sigprocmask",
         45: "recvfrom", 47: "recvmsg", 53: "socketpair", 56: "clone", 59: "execve", 72: "fcntl", 89: "readlink",
         202: "futex", 217: "getdents64", 232: "epoll_wait", 233: "epoll_ctl", 257: "openat", 262: "newfstatat",
         302: "prlimit64", 332: "statx", 434: "pidfd_open", 435: "clone3", 437: "openat2"}
RECVMSG, EPOLL_WAIT, CLONE, CLONE3, EXECVE = 47, 232, 56, 435, 59
LINE = re.compile(r"\s*(.+?)\s+(\d+)/(\d+)\s+([\d.]+):\s+raw_syscalls:sys_(enter|exit): NR (\d+) (.*)")


def record(kind, binary, flaps, spacing, out):
    if kind != "floor":
        bench.BROKERS[kind] = os.path.abspath(binary)
    sandbox = bench.Sandbox(f"cp{os.getpid()}")
    try:
        daemon, runs, ready = bench.start(kind, sandbox, "cp")
        if ready is None:
            raise RuntimeError(f"{kind} did not become ready")
        time.sleep(4)
        perf = subprocess.Popen(["perf", "record", "-q", "-o", out, "-e", "raw_syscalls:sys_enter,raw_syscalls:sys_exit",
                                 "-p", str(daemon.pid)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        before = bench.served_runs(runs)
        sandbox.flap(flaps, spacing)
        bench.wait_quiet(sandbox, runs, quiet=2)
        perf.send_signal(signal.SIGINT)
        perf.wait()
        served = bench.served_runs(runs) - before
        daemon.terminate()
        daemon.wait(timeout=30)
        return served
    finally:
        sandbox.close()


def analyse(out):
    text = subprocess.run(["perf", "script", "-i", out, "-F", "comm,pid,tid,time,event,trace"], capture_output=True, text=True).stdout
    events = []
    for line in text.splitlines():
        m = LINE.match(line)
        if m:
            events.append((float(m.group(4)), int(m.group(3)), int(m.group(2)), m.group(5), int(m.group(6)), m.group(7)))
    if not events:
        return 0, [], [], [], collections.Counter()
    # The daemon: the process of the first event (the trace starts before any script). A script is a clone of one of
    # its threads that became a process of its own (a thread the runtime makes stays in the daemon's pid); its calls,
    # and its own children's, are not the daemon's.
    daemon = events[0][2]
    clones = collections.defaultdict(list)  # daemon thread -> the ids its clones returned, in order
    for (_, tid, pid, what, nr, rest) in events:
        if pid == daemon and what == "exit" and nr in (CLONE, CLONE3) and re.match(r"= [1-9]", rest):
            clones[tid].append(int(rest.split()[1]))
    processes = {tid for (_, tid, pid, _, _, _) in events if tid == pid and pid != daemon}
    scripts = {child for children in clones.values() for child in children if child in processes}
    signal_to_spawn, wake_to_spawn, spawn_to_exec = [], [], []
    between = collections.Counter()
    last_message = None
    last_wake = {}
    since_wake = collections.defaultdict(list)
    entered = collections.Counter()
    started, execed = {}, set()
    spawns = 0
    for (at, tid, pid, what, nr, rest) in events:
        if pid != daemon:
            if tid in scripts:
                if what == "exit" and nr in (CLONE, CLONE3) and tid not in started:
                    started[tid] = at
                elif what == "exit" and nr == EXECVE and rest.startswith("= 0") and tid in started and tid not in execed:
                    execed.add(tid)
                    spawn_to_exec.append((at - started[tid]) * 1e6)
            continue
        if what == "exit" and nr == RECVMSG and not rest.startswith("= -"):
            last_message = at
        if what == "exit" and nr == EPOLL_WAIT:
            last_wake[tid] = at
            since_wake[tid] = []
        elif what == "enter":
            since_wake[tid].append(nr)
        if what == "enter" and nr in (CLONE, CLONE3):
            # The n-th clone this thread enters returned its n-th id: a spawn when that id became a script.
            index = entered[tid]
            entered[tid] += 1
            if index >= len(clones[tid]) or clones[tid][index] not in scripts:
                continue
            spawns += 1
            if last_message is not None:
                signal_to_spawn.append((at - last_message) * 1e6)
            if tid in last_wake:
                wake_to_spawn.append((at - last_wake[tid]) * 1e6)
                for call in since_wake[tid][:-1]:
                    between[NAMES.get(call, str(call))] += 1
            # A second spawn in the same wake-up counts only the calls after this one.
            since_wake[tid] = []
    return spawns, signal_to_spawn, wake_to_spawn, spawn_to_exec, between


def summary(values):
    if not values:
        return "-"
    ordered = sorted(values)
    return f"{statistics.median(ordered):.0f} us (p90 {ordered[int(len(ordered) * 0.9)]:.0f})"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--flaps", type=int, default=20)
    parser.add_argument("--spacing", type=float, default=0.5)
    parser.add_argument("binaries", nargs="+", help="NAME=PATH (floor=- for the floor)")
    args = parser.parse_args()
    for spec in args.binaries:
        name, _, path = spec.partition("=")
        out = f"/tmp/critical-path-{os.getpid()}-{name}.data"
        try:
            served = record("floor" if name == "floor" else name, path, args.flaps, args.spacing, out)
            spawns, signal_to_spawn, wake_to_spawn, spawn_to_exec, between = analyse(out)
        finally:
            if os.path.exists(out):
                os.unlink(out)
        print(f"{name}: served {served}, spawns {spawns}; signal -> spawn {summary(signal_to_spawn)}; "
              f"wake -> spawn {summary(wake_to_spawn)}; spawn -> exec {summary(spawn_to_exec)}")
        if between and spawns:
            print("    between the wake-up and the spawn, per spawn: "
                  + ", ".join(f"{call} {count / spawns:.1f}" for call, count in between.most_common()))


if __name__ == "__main__":
    main()
