using BenchmarkDotNet.Attributes;
using NetworkBroker.Netlink;

namespace NetworkBroker.Benchmarks;

/// <summary>
/// What showing a log line costs: every line the daemon writes goes through <see cref="KernelText.DisplayMessage"/>.
/// Lines with nothing to escape are the common case; they must stay a vectorised search or two and no copy.
/// </summary>
[MemoryDiagnoser]
public class LogEscaping
{
    private const string Ascii = "eth1: routable.d/50-hook succeeded in 4 ms (exit status 0); next: configured.d, 2 scripts";
    private const string NonAscii = "wlan-été: routable.d/50-hook: connected to «Café Zürich» ssid, 54 Mbit/s, no change needed";
    private const string Escaped = "eth1: routable.d/50-echo: 1.2.3.4\u001b[31mRED\u202e and a tab\there";

    [Benchmark(Baseline = true)]
    public string AsciiLine() => KernelText.DisplayMessage(Ascii);

    [Benchmark]
    public string NonAsciiLine() => KernelText.DisplayMessage(NonAscii);

    [Benchmark]
    public string LineWithControls() => KernelText.DisplayMessage(Escaped);
}
