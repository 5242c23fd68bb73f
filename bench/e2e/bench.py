#!/usr/bin/env python3
"""End-to-end benchmark: the floor (bench/floor/floor.c: sd-bus and posix_spawn, nothing else),
network-broker and Debian's networkd-dispatcher, each on an identical fresh sandbox (private bus, two
namespaces, the real systemd-networkd; scripts/networkd-sandbox.sh).

For each repetition, spacing and daemon (the daemons alternate, their order rotating with each
repetition, so that a load on the machine falls on all of them alike): N carrier flaps with a tiny hook
in no-carrier.d, carrier.d and routable.d recording its start ($EPOCHREALTIME, no fork) and $STATE.
Ground truth: busctl monitor's receive time of each PropertiesChanged carrying an OperationalState.
Reported: latency signal -> script (p50/p90/p99/max) and its ratio to the floor's in the same run, runs
expected/served/missed/duplicated/out of order, idle/after/peak RSS, threads, fds, daemon CPU per
served run, exec -> ready; then the same daemons started beside 1,000 more links (--link-pairs veth
pairs, half of them with an address under RoutingPolicyRules=). Writes a Markdown section to --out.
"""
import argparse, json, os, shutil, socket, statistics, subprocess, sys, tempfile, threading, time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HOOKED = ("no-carrier", "carrier", "routable")
SANDBOX = os.path.join(ROOT, "scripts", "networkd-sandbox.sh")


def need_perf():
    """For the profiling helpers (cpu-per-run.py --count, syscalls.py, wakeups.py): `make bench` does not run them, nor install perf."""
    if shutil.which("perf") is None:
        sys.exit("this needs perf, which `make bench` does not install (Debian: apt-get install linux-perf)")


def sh(command):
    subprocess.run(command, shell=True, check=True)


class Sandbox:
    """scripts/networkd-sandbox.sh (the one `make demo` uses), plus busctl monitor as ground truth."""

    def __init__(self, tag):
        self.dir = tempfile.mkdtemp(prefix="nb-bench-")
        self.processes = []
        subprocess.run([SANDBOX, "up", self.dir, f"bench{tag}"], check=True, stdout=subprocess.DEVNULL)
        with open(f"{self.dir}/sandbox.env") as f:
            values = dict(line.rstrip("\n").split("=", 1) for line in f if "=" in line)
        self.node, self.peer = values["NODE"], values["PEER"]
        self.ifindex = values["IFINDEX"]
        self.networkd_pid = int(values["NETWORKD_PID"])
        self.env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=values["DBUS_SYSTEM_BUS_ADDRESS"])
        self.monitor_file = f"{self.dir}/monitor.json"
        self.monitor = subprocess.Popen(["busctl", "--system", "monitor", "--json=short", "org.freedesktop.network1"], env=self.env,
                                        stdout=open(self.monitor_file, "w"), stderr=subprocess.DEVNULL)
        self.processes.append(self.monitor)
        time.sleep(0.5)

    def busctl(self, *args):
        return subprocess.run(["busctl", "--system", *args], env=self.env, capture_output=True, text=True).stdout

    def link_state(self):
        try:
            return open(f"{self.dir}/run/netif/links/{self.ifindex}").read()
        except OSError:
            return ""

    @staticmethod
    def wait_for(condition, seconds):
        deadline = time.time() + seconds
        while not condition():
            if time.time() > deadline:
                raise TimeoutError("sandbox did not come up")
            time.sleep(0.05)

    def flap(self, flaps, spacing):
        commands = []
        for _ in range(flaps):
            commands.append("ip link set veth0 down")
            if spacing:
                commands.append(f"sleep {spacing}")
            commands.append("ip link set veth0 up")
            if spacing:
                commands.append(f"sleep {spacing}")
        sh(f"ip netns exec {self.peer} sh -c '{'; '.join(commands)}'")

    def monitor_lines(self):
        with open(self.monitor_file) as f:
            return f.readlines()

    def close(self):
        for process in reversed(self.processes):
            process.kill()
            process.wait()
        subprocess.run([SANDBOX, "down", self.dir])
        shutil.rmtree(self.dir, ignore_errors=True)


def proc_stats(pid):
    status = {}
    for line in open(f"/proc/{pid}/status"):
        key, _, value = line.partition(":")
        status[key] = value.strip()
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return {
        "rss": int(status["VmRSS"].split()[0]), "hwm": int(status["VmHWM"].split()[0]), "threads": int(status["Threads"]),
        "fds": len(os.listdir(f"/proc/{pid}/fd")), "cpu": (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"),
    }


def install_hooks(directory, record):
    for state in HOOKED:
        os.makedirs(f"{directory}/{state}.d", exist_ok=True)
        path = f"{directory}/{state}.d/10-record"
        with open(path, "w") as f:
            # The link: LINK (network-broker), IFACE (networkd-dispatcher), #IFINDEX (the floor).
            f.write(f'#!/bin/bash\necho "$EPOCHREALTIME $STATE ${{LINK:-${{IFACE:-#$IFINDEX}}}}" >> {record}\n')
        os.chmod(path, 0o755)


FLOOR = os.path.join(ROOT, "bench", "floor", "floor")
# Broker builds and environments to compare with the default one (--broker NAME=PATH, --broker-env NAME=K=V).
BROKERS = {"network-broker": f"{ROOT}/bin/network-broker"}
BROKER_ENV = {}


def start(kind, sandbox, tag, broker_config=""):
    record = f"{sandbox.dir}/runs-{kind}"
    notify = f"{sandbox.dir}/notify-{tag}.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(notify)
    listener.settimeout(0.005)
    # The broker's control socket stays in the sandbox, not in this machine's /run/network-broker.
    env = dict(sandbox.env, NOTIFY_SOCKET=notify, RUNTIME_DIRECTORY=f"{sandbox.dir}/run-broker")
    if kind in BROKERS:
        # As deployed, the runtime directory (the restart memory's file) is on a tmpfs (/run): mounted in networkd's
        # mount namespace, which the daemon joins (gone with it). On the sandbox's ext4 each rename cost the daemon CPU.
        runtime = env["RUNTIME_DIRECTORY"]
        os.makedirs(runtime, exist_ok=True)
        inside = ["nsenter", "-t", str(sandbox.networkd_pid), "-m"]
        if subprocess.run([*inside, "mountpoint", "-q", runtime]).returncode != 0:
            subprocess.run([*inside, "mount", "-t", "tmpfs", "-o", "size=4m,mode=0755", f"nb-{tag}", runtime], check=True)
        config = f"{sandbox.dir}/etc-{kind}"
        os.makedirs(config)
        with open(f"{config}/network-broker.toml", "w") as f:
            # root, like networkd-dispatcher: the comparison is of the event path, not of privileges.
            f.write('[System]\nLogLevel = "warn"\nUser = "root"\n[Network]\nEmitJSON = true\n' + broker_config)
        install_hooks(config, record)
        command = [BROKERS[kind], "--config", f"{config}/network-broker.toml"]
        env.update(BROKER_ENV.get(kind, {}))
    elif kind == "floor":
        config = f"{sandbox.dir}/floor"
        install_hooks(config, record)
        command = [FLOOR, config]
    else:
        config = f"{sandbox.dir}/networkd-dispatcher"
        install_hooks(config, record)
        command = ["networkd-dispatcher", "-S", config, "-q"]
    started = time.time()
    daemon = subprocess.Popen(["nsenter", "-t", str(sandbox.networkd_pid), "-n", "-m", *command], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ready = None
    while ready is None and time.time() - started < 30:
        try:
            if b"READY=1" in listener.recv(4096):
                ready = time.time() - started
        except socket.timeout:
            # networkd-dispatcher does not speak sd_notify: its readiness is its connection on the bus.
            if kind == "networkd-dispatcher" and any(line.split()[1:2] == [str(daemon.pid)] for line in sandbox.busctl("list", "--no-pager").splitlines()[1:]):
                ready = time.time() - started
    # Read on, as systemd does, until the daemon ends: a closed socket fails its STATUS= updates, which a daemon
    # under systemd never sees (network-broker paid a caught exception for each).
    threading.Thread(target=drain_notifications, args=(listener, daemon), daemon=True).start()
    return daemon, record, ready


def drain_notifications(listener, daemon):
    listener.settimeout(0.5)
    try:
        while daemon.poll() is None:
            try:
                listener.recv(4096)
            except socket.timeout:
                pass
    finally:
        listener.close()


def analyse(sandbox, record, from_line):
    """The runs for the sandbox's eth1 against networkd's signals for eth1 (other links' runs are not counted)."""
    signals = []
    last = None
    # sd_bus_path_encode: a leading digit is escaped as _3X.
    path = "/org/freedesktop/network1/link/" + "".join(f"_{ord(c):x}" if i == 0 else c for i, c in enumerate(sandbox.ifindex))
    for line in sandbox.monitor_lines()[from_line:]:
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if message.get("member") != "PropertiesChanged" or message.get("path") != path:
            continue
        changed = message["payload"]["data"][1]
        if "OperationalState" in changed:
            value = changed["OperationalState"]["data"]
            if value != last:
                if value in HOOKED:
                    signals.append((message["timestamp-realtime"] / 1e6, value))
                last = value
    runs = []
    if os.path.exists(record):
        for line in open(record):
            parts = line.split()
            if len(parts) >= 3 and parts[2] in ("eth1", f"#{sandbox.ifindex}"):
                runs.append((float(parts[0]), parts[1]))
    # A run before the first signal counted is not an answer to one: the start's own run of eth1's current state
    # (network-broker runs every link's state once at the first start of a boot; its runtime directory is new here).
    if signals:
        runs = [run for run in runs if run[0] >= signals[0][0]]
    # Longest common subsequence of states: what was served in order; the rest is missed or extra.
    n, m = len(signals), len(runs)
    table = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            table[i][j] = table[i + 1][j + 1] + 1 if signals[i][1] == runs[j][1] else max(table[i + 1][j], table[i][j + 1])
    i = j = 0
    latencies, extra = [], []
    while i < n and j < m:
        if signals[i][1] == runs[j][1] and table[i][j] == table[i + 1][j + 1] + 1:
            latencies.append((runs[j][0] - signals[i][0]) * 1000)
            i += 1
            j += 1
        elif table[i + 1][j] >= table[i][j + 1]:
            i += 1
        else:
            extra.append(j)
            j += 1
    extra += range(j, m)
    duplicated = sum(1 for k in extra if k > 0 and runs[k][1] == runs[k - 1][1])
    served = len(latencies)
    return {"expected": n, "served": served, "missed": n - served, "duplicated": duplicated,
            "out_of_order": len(extra) - duplicated, "latencies": latencies,
            "lag": (runs[-1][0] - signals[-1][0]) if runs and signals else None}


def percentile(values, p):
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def wait_quiet(sandbox, record, quiet=3):
    """No new signal and no new run for `quiet` s (a daemon that fell behind is waited for, up to 5 min)."""
    deadline = time.time() + 300
    before = (-1, -1)
    while time.time() < deadline:
        now = (len(sandbox.monitor_lines()), os.path.getsize(record) if os.path.exists(record) else 0)
        if now == before:
            break
        before = now
        time.sleep(quiet)


def served_runs(record):
    """Runs the hooks recorded so far (a line each)."""
    return sum(1 for _ in open(record)) if os.path.exists(record) else 0


def over_flaps(kind, flaps, spacing, tag, before, after, settle=1.5):
    """One daemon (a BROKERS name, or the floor) on a fresh sandbox, ready and settled for `settle` s; before(daemon,
    sandbox) just before N flaps at `spacing`, after(daemon) once quiet (before the daemon is killed). Returns the runs
    served over the flaps and what before and after returned (the tools that count a daemon's costs per served run)."""
    sandbox = Sandbox(tag)
    daemon = None
    try:
        daemon, record, ready = start(kind, sandbox, tag)
        if ready is None:
            raise RuntimeError(f"{kind} did not become ready")
        time.sleep(settle)
        first = before(daemon, sandbox)
        served = served_runs(record)
        sandbox.flap(flaps, spacing)
        wait_quiet(sandbox, record, quiet=2)
        served = served_runs(record) - served
        return served, first, after(daemon)
    finally:
        if daemon is not None:
            daemon.kill()
            daemon.wait()
        sandbox.close()


def run(kind, flaps, spacing, tag):
    sandbox = Sandbox(tag)
    try:
        daemon, record, ready = start(kind, sandbox, tag)
        # Idle: network-broker releases its start's code pages about 1 s after READY, once the start has quieted.
        time.sleep(4)
        idle = proc_stats(daemon.pid)
        offset = len(sandbox.monitor_lines())
        sandbox.flap(flaps, spacing)
        wait_quiet(sandbox, record)
        after = proc_stats(daemon.pid)
        daemon.terminate()
        daemon.wait(timeout=30)
        result = analyse(sandbox, record, offset)
        result.update(kind=kind, flaps=flaps, spacing=spacing, ready=ready, idle=idle, after=after,
                      cpu=after["cpu"] - idle["cpu"])
        return result
    finally:
        sandbox.close()


def add_links(sandbox, pairs, addressed):
    """`pairs` veth pairs in the node's namespace (2 x pairs links), up; the first `addressed` pairs' first ends
    (nbp<i>) with an IPv4 and an IPv6 address, the others named nbq<i>. networkd has no .network for them."""
    lines = []
    for i in range(pairs):
        name = f"nbp{i}" if i < addressed else f"nbq{i}"
        lines.append(f"link add {name} type veth peer name {name}x")
        lines.append(f"link set {name} up")
        lines.append(f"link set {name}x up")
        if i < addressed:
            lines.append(f"addr add 10.{100 + i // 250}.{i % 250}.1/24 dev {name}")
            lines.append(f"addr add fd00:{i:x}::1/64 dev {name} nodad")
    batch = f"{sandbox.dir}/links.batch"
    with open(batch, "w") as f:
        f.write("\n".join(lines) + "\n")
    sh(f"ip -n {sandbox.node} -batch {batch}")


def settle(pid, seconds=90, quiet=5):
    """Until the daemon's CPU time has not moved for `quiet` s (it has read and acted on what is there). Longer than
    the daemon's own wait before it releases the start's garbage and code pages (two quiet seconds, then the
    release): with 2 s, the RSS was often read in between, at the start's peak (13.5 against 9.2 MB settled)."""
    deadline = time.time() + seconds
    last = proc_stats(pid)["cpu"]
    still = 0.0
    while time.time() < deadline and still < quiet:
        time.sleep(1)
        now = proc_stats(pid)["cpu"]
        still = still + 1 if now == last else 0.0
        last = now


def run_many_links(kind, pairs, flaps, tag):
    """The daemon started beside 2 x pairs more links; its RSS once it settled, then after flaps at 0.5 s."""
    sandbox = Sandbox(tag)
    try:
        add_links(sandbox, pairs, pairs // 2)
        # networkd takes the new links through their states first: the daemon starts once it stopped signalling.
        before = -1
        while len(sandbox.monitor_lines()) != before:
            before = len(sandbox.monitor_lines())
            time.sleep(3)
        daemon, record, ready = start(kind, sandbox, tag, broker_config='RoutingPolicyRules = "nbp*"\n')
        settle(daemon.pid)
        idle = proc_stats(daemon.pid)
        rules = sum(1 for family in ("-4", "-6")
                    for line in subprocess.run(["ip", family, "-n", sandbox.node, "rule", "show"], capture_output=True,
                                               text=True).stdout.splitlines()
                    if "proto 250" in line or "proto network-broker" in line)
        offset = len(sandbox.monitor_lines())
        sandbox.flap(flaps, 0.5)
        wait_quiet(sandbox, record)
        after = proc_stats(daemon.pid)
        links = int(subprocess.run(f"ip -n {sandbox.node} -o link | wc -l", shell=True, capture_output=True, text=True).stdout)
        daemon.terminate()
        daemon.wait(timeout=30)
        result = analyse(sandbox, record, offset)
        result.update(kind=kind, flaps=flaps, spacing=0.5, ready=ready, idle=idle, after=after, links=links, rules=rules,
                      cpu=after["cpu"] - idle["cpu"])
        return result
    finally:
        sandbox.close()


def fmt(value, form="%.2f"):
    return "n/a" if value is None or value != value else form % value


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def pooled(results):
    """One daemon's runs at one spacing over all repetitions."""
    if not results:
        return {"reps": 0}
    latencies = [x for r in results for x in r["latencies"]]
    served = sum(r["served"] for r in results)
    return {
        "latencies": latencies, "reps": len(results),
        "expected": sum(r["expected"] for r in results), "served": served,
        "missed": sum(r["missed"] for r in results), "duplicated": sum(r["duplicated"] for r in results),
        "out_of_order": sum(r["out_of_order"] for r in results),
        "lag": max((r["lag"] for r in results if r["lag"] is not None), default=None),
        "idle_rss": median([r["idle"]["rss"] / 1024 for r in results]),
        "after_rss": median([r["after"]["rss"] / 1024 for r in results]),
        "peak_rss": max(r["after"]["hwm"] / 1024 for r in results),
        "threads": median([r["after"]["threads"] for r in results]), "fds": median([r["after"]["fds"] for r in results]),
        "cpu_per_run": sum(r["cpu"] for r in results) / max(1, served) * 1000,
        "ready": median([r["ready"] * 1000 if r["ready"] is not None else None for r in results]),
        "p50s": [percentile(r["latencies"], 50) for r in results], "p99s": [percentile(r["latencies"], 99) for r in results],
    }


def ratio_range(mine, floors):
    """The ratio of each repetition to the floor's of the same repetition: min-max."""
    ratios = [a / b for a, b in zip(mine, floors) if b and a == a and b == b]
    return f"{min(ratios):.2f}-{max(ratios):.2f}" if ratios else "n/a"


def markdown(results, kinds, spacings):
    lines = ["| daemon | spacing | runs | signal -> script p50 / p90 / p99 / max (ms) | p50 / p99 vs floor (per repetition) "
             "| expected / served / missed / duplicated / out of order | last run after last signal | idle RSS | RSS after / peak "
             "| threads | fds | CPU per served run | exec -> ready |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for spacing in spacings:
        groups = {kind: pooled([r for r in results if r["kind"] == kind and r["spacing"] == spacing]) for kind in kinds}
        floor = groups.get("floor")
        for kind in kinds:
            g = groups[kind]
            if not g["reps"]:
                continue
            l = g["latencies"]
            p50, p99 = percentile(l, 50), percentile(l, 99)
            if floor and floor["latencies"] and kind != "floor":
                f50, f99 = percentile(floor["latencies"], 50), percentile(floor["latencies"], 99)
                versus = (f"**{p50 / f50:.2f}x / {p99 / f99:.2f}x** ({ratio_range(g['p50s'], floor['p50s'])} / "
                          f"{ratio_range(g['p99s'], floor['p99s'])})")
            else:
                versus = "1 / 1" if kind == "floor" else "n/a"
            lines.append(
                f"| {kind} | {spacing} s | {g['reps']} x {g['expected'] // max(1, g['reps'])} "
                f"| {p50:.2f} / {percentile(l, 90):.2f} / {p99:.2f} / {max(l) if l else float('nan'):.2f} | {versus} "
                f"| {g['expected']} / {g['served']} / {g['missed']} / {g['duplicated']} / {g['out_of_order']} "
                f"| {fmt(g['lag'])} s | {fmt(g['idle_rss'], '%.1f')} MB | {fmt(g['after_rss'], '%.1f')} / {fmt(g['peak_rss'], '%.1f')} MB "
                f"| {fmt(g['threads'], '%d')} | {fmt(g['fds'], '%d')} | {g['cpu_per_run']:.2f} ms | {fmt(g['ready'], '%.0f')} ms |")
    return "\n".join(lines)


def markdown_links(results):
    lines = ["| daemon | links | our rules | RSS settled | RSS after flaps / peak | threads | signal -> script p50 / p99 (ms) "
             "| expected / served / missed / duplicated / out of order | CPU per served run | exec -> ready |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        l = r["latencies"]
        lines.append(
            f"| {r['kind']} | {r['links']} | {r['rules']} | {r['idle']['rss'] / 1024:.1f} MB "
            f"| {r['after']['rss'] / 1024:.1f} / {r['after']['hwm'] / 1024:.1f} MB | {r['after']['threads']} "
            f"| {percentile(l, 50):.2f} / {percentile(l, 99):.2f} "
            f"| {r['expected']} / {r['served']} / {r['missed']} / {r['duplicated']} / {r['out_of_order']} "
            f"| {r['cpu'] / max(1, r['served']) * 1000:.2f} ms | {fmt(None if r['ready'] is None else r['ready'] * 1000, '%.0f')} ms |")
    return "\n".join(lines)


def load_line():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--flaps", default="100,300,300", help="flaps per run, one number or one per spacing")
    parser.add_argument("--spacings", default="0.5,0.02,0")
    parser.add_argument("--reps", type=int, default=3, help="repetitions; the daemons alternate within each")
    parser.add_argument("--daemons", default="floor,network-broker,networkd-dispatcher")
    parser.add_argument("--broker", action="append", default=[], metavar="NAME=PATH",
                        help="another network-broker binary to run as daemon NAME (add NAME to --daemons)")
    parser.add_argument("--broker-env", action="append", default=[], metavar="NAME=VAR=VALUE",
                        help="an environment variable for broker NAME (for runtime knobs)")
    parser.add_argument("--link-pairs", type=int, default=500, help="veth pairs for the many-links run; 0 skips it")
    parser.add_argument("--link-flaps", type=int, default=20)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    for entry in args.broker:
        name, path = entry.split("=", 1)
        BROKERS[name] = os.path.abspath(path)
    for entry in args.broker_env:
        name, variable, value = entry.split("=", 2)
        BROKER_ENV.setdefault(name, {})[variable] = value
    kinds = args.daemons.split(",")
    spacings = [float(s) for s in args.spacings.split(",")]
    flaps = [int(f) for f in args.flaps.split(",")]
    flaps = dict(zip(spacings, flaps if len(flaps) == len(spacings) else flaps * len(spacings)))
    loads = [load_line()]
    results = []
    for rep in range(args.reps):
        order = kinds[rep % len(kinds):] + kinds[:rep % len(kinds)]
        for spacing in spacings:
            for kind in order:
                print(f"[{rep + 1}/{args.reps}] {kind}: {flaps[spacing]} flaps at {spacing} s spacing", flush=True)
                result = run(kind, flaps[spacing], spacing, f"{os.getpid()}-{len(results)}")
                print(f"  served {result['served']}/{result['expected']}, p50 {percentile(result['latencies'], 50):.2f} ms, "
                      f"p99 {percentile(result['latencies'], 99):.2f} ms, CPU {result['cpu'] * 1000:.0f} ms", flush=True)
                results.append(result)
        loads.append(load_line())
    many = []
    if args.link_pairs:
        for kind in kinds:
            print(f"{kind}: beside {2 * args.link_pairs} more links", flush=True)
            many.append(run_many_links(kind, args.link_pairs, args.link_flaps, f"{os.getpid()}-l{len(many)}"))
            print(f"  settled at {many[-1]['idle']['rss'] / 1024:.1f} MB, {many[-1]['rules']} rules", flush=True)
        loads.append(load_line())
    text = [
        "\n## End to end: signal to script, against the floor and networkd-dispatcher\n",
        f"Each run on a fresh sandbox with the real systemd-networkd (scripts/networkd-sandbox.sh); hooks in no-carrier.d, "
        f"carrier.d and routable.d (bash, recording `$EPOCHREALTIME` in its first statement); network-broker with "
        f"EmitJSON=true, as root. The floor is bench/floor/floor.c. {args.reps} repetitions; within each, the daemons "
        f"alternate and their order rotates. Ground truth: busctl monitor receive times. The ratios are of the pooled "
        f"percentiles; in brackets the range of the ratios of each repetition to the floor's of the same repetition. "
        f"CPU: the daemon's own user+system time (not its scripts') from idle to quiet, over the runs it served "
        f"(clock ticks of 10 ms). Load average during the run (start, after each repetition): {'; '.join(loads)}.\n",
        markdown(results, kinds, spacings) + "\n" if results else "",
    ]
    if many:
        text += [
            f"\n### Beside {2 * args.link_pairs} more links\n",
            f"{args.link_pairs} veth pairs in the node's namespace, all up; {args.link_pairs // 2} of them (nbp*) with an "
            f"IPv4 and an IPv6 address, and network-broker with RoutingPolicyRules=\"nbp*\" (our rules: protocol 250, "
            f"IPv4 + IPv6). The daemon starts after the links exist; RSS once its CPU time stopped moving for 5 s, then after "
            f"{args.link_flaps} flaps of eth1 at 0.5 s.\n",
            markdown_links(many) + "\n",
        ]
    with open(args.out, "a") as f:
        f.write("\n".join(text))
    print("\n".join(text))


if __name__ == "__main__":
    sys.exit(main())
