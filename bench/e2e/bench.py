#!/usr/bin/env python3
"""End-to-end benchmark: network-broker and Debian's networkd-dispatcher, each on an identical fresh
sandbox (private bus, two namespaces, the real systemd-networkd; see shared TESTBED.md).

For each daemon and spacing: N carrier flaps with a tiny hook in no-carrier.d, carrier.d and
routable.d recording its start ($EPOCHREALTIME, no fork) and $STATE. Ground truth: busctl monitor's
receive time of each PropertiesChanged carrying an OperationalState. Reported: latency signal ->
script (p50/p90/p99/max), runs expected/served/missed/duplicated/out of order, idle/after/peak RSS,
threads, fds, CPU per event, and exec -> ready. Writes a Markdown section to --out.
"""
import argparse, json, os, shutil, socket, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HOOKED = ("no-carrier", "carrier", "routable")
SANDBOX = os.path.join(ROOT, "scripts", "networkd-sandbox.sh")


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
            f.write(f'#!/bin/bash\necho "$EPOCHREALTIME $STATE" >> {record}\n')
        os.chmod(path, 0o755)


def start(kind, sandbox, tag):
    record = f"{sandbox.dir}/runs-{kind}"
    notify = f"{sandbox.dir}/notify-{tag}.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(notify)
    listener.settimeout(0.005)
    # The broker's control socket stays in the sandbox, not in this machine's /run/network-broker.
    env = dict(sandbox.env, NOTIFY_SOCKET=notify, RUNTIME_DIRECTORY=f"{sandbox.dir}/run-broker")
    if kind == "network-broker":
        config = f"{sandbox.dir}/etc"
        os.makedirs(config)
        with open(f"{config}/network-broker.toml", "w") as f:
            # root, like networkd-dispatcher: the comparison is of the event path, not of privileges.
            f.write('[System]\nLogLevel = "warn"\nUser = "root"\n[Network]\nEmitJSON = true\n')
        install_hooks(config, record)
        command = [f"{ROOT}/bin/network-broker", "--config", f"{config}/network-broker.toml"]
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
            if kind != "network-broker" and any(line.split()[1:2] == [str(daemon.pid)] for line in sandbox.busctl("list", "--no-pager").splitlines()[1:]):
                ready = time.time() - started
    listener.close()
    return daemon, record, ready


def analyse(sandbox, record, from_line):
    signals = []
    last = None
    for line in sandbox.monitor_lines()[from_line:]:
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if message.get("member") != "PropertiesChanged" or "/link/" not in message.get("path", ""):
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
            if len(parts) >= 2:
                runs.append((float(parts[0]), parts[1]))
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


def run(kind, flaps, spacing, tag):
    sandbox = Sandbox(tag)
    try:
        daemon, record, ready = start(kind, sandbox, tag)
        time.sleep(1.5)
        idle = proc_stats(daemon.pid)
        offset = len(sandbox.monitor_lines())
        sandbox.flap(flaps, spacing)
        # Quiet: no new signal and no new run for 3 s (a daemon that fell behind is waited for, up to 5 min).
        deadline = time.time() + 300
        before = (-1, -1)
        while time.time() < deadline:
            now = (len(sandbox.monitor_lines()), os.path.getsize(record) if os.path.exists(record) else 0)
            if now == before:
                break
            before = now
            time.sleep(3)
        after = proc_stats(daemon.pid)
        daemon.terminate()
        daemon.wait(timeout=30)
        result = analyse(sandbox, record, offset)
        result.update(kind=kind, flaps=flaps, spacing=spacing, ready=ready, idle=idle, after=after,
                      cpu_per_event=(after["cpu"] - idle["cpu"]) / max(1, result["expected"]))
        return result
    finally:
        sandbox.close()


def markdown(results):
    lines = ["| daemon | flaps @ spacing | signal -> script p50 / p90 / p99 / max (ms) | expected / served / missed / duplicated / out of order | last run after last signal | idle RSS | RSS after / peak | threads | fds | CPU per event | exec -> ready |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        l = r["latencies"]
        ready = "n/a" if r["ready"] is None else "%.0f ms" % (r["ready"] * 1000)
        lines.append(
            f"| {r['kind']} | {r['flaps']} @ {r['spacing']} s | {percentile(l, 50):.2f} / {percentile(l, 90):.2f} / {percentile(l, 99):.2f} / {max(l) if l else float('nan'):.2f} "
            f"| {r['expected']} / {r['served']} / {r['missed']} / {r['duplicated']} / {r['out_of_order']} "
            f"| {r['lag']:.2f} s | {r['idle']['rss'] / 1024:.1f} MB | {r['after']['rss'] / 1024:.1f} / {r['after']['hwm'] / 1024:.1f} MB "
            f"| {r['after']['threads']} | {r['after']['fds']} | {r['cpu_per_event'] * 1000:.2f} ms "
            f"| {ready} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--flaps", type=int, default=300)
    parser.add_argument("--spacings", default="0.5,0.02,0")
    parser.add_argument("--daemons", default="network-broker,networkd-dispatcher")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    results = []
    for spacing in [float(s) for s in args.spacings.split(",")]:
        for kind in args.daemons.split(","):
            print(f"{kind}: {args.flaps} flaps at {spacing} s spacing", flush=True)
            result = run(kind, args.flaps, spacing, f"{os.getpid()}-{len(results)}")
            print(f"  served {result['served']}/{result['expected']}, p50 {percentile(result['latencies'], 50):.2f} ms", flush=True)
            results.append(result)
    with open(args.out, "a") as f:
        f.write("\n## End to end: signal to script, against networkd-dispatcher\n\n")
        f.write(f"Each run on a fresh sandbox with the real systemd-networkd; hooks in no-carrier.d, carrier.d and routable.d; "
                f"network-broker with EmitJSON=true. Ground truth: busctl monitor receive times.\n\n")
        f.write(markdown(results) + "\n")
    print(markdown(results))


if __name__ == "__main__":
    sys.exit(main())
