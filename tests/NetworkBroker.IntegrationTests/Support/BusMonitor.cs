using System.Diagnostics;
using System.Text.Json;

namespace NetworkBroker.IntegrationTests.Support;

/// <summary>
/// The ground truth: `busctl monitor --json=short org.freedesktop.network1`, recording every
/// PropertiesChanged networkd sent, independently of our D-Bus code.
/// </summary>
public sealed class BusMonitor : IDisposable
{
    private readonly Process _busctl;
    private readonly List<(string Path, string Interface, Dictionary<string, string> Changed)> _signals = [];
    private readonly TaskCompletionSource _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public BusMonitor(PrivateBus bus)
    {
        var info = new ProcessStartInfo("busctl", ["--system", "monitor", "--json=short", "org.freedesktop.network1"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        info.Environment["DBUS_SYSTEM_BUS_ADDRESS"] = bus.Address;
        _busctl = Process.Start(info)!;
        _busctl.OutputDataReceived += (_, e) => Parse(e.Data);
        _busctl.ErrorDataReceived += (_, e) => { if (e.Data?.Contains("Monitoring") == true) _listening.TrySetResult(); };
        _busctl.BeginOutputReadLine();
        _busctl.BeginErrorReadLine();
    }

    /// <summary>busctl says "Monitoring bus message stream." once its match is in place.</summary>
    public Task Listening => _listening.Task.WaitAsync(TimeSpan.FromSeconds(10));

    public int Count
    {
        get { lock (_signals) return _signals.Count; }
    }

    private void Parse(string? line)
    {
        if (string.IsNullOrWhiteSpace(line))
            return;
        using var json = JsonDocument.Parse(line);
        var root = json.RootElement;
        if (root.GetProperty("type").GetString() != "signal" || root.GetProperty("member").GetString() != "PropertiesChanged")
            return;
        var data = root.GetProperty("payload").GetProperty("data");
        var changed = new Dictionary<string, string>();
        foreach (var property in data[1].EnumerateObject())
            if (property.Value.GetProperty("type").GetString() == "s")
                changed[property.Name] = property.Value.GetProperty("data").GetString()!;
        lock (_signals)
            _signals.Add((root.GetProperty("path").GetString()!, data[0].GetString()!, changed));
    }

    /// <summary>The properties each PropertiesChanged on <paramref name="path"/> carried, in order, from signal number <paramref name="from"/> on.</summary>
    public List<Dictionary<string, string>> Signals(string path, int from)
    {
        lock (_signals)
            return _signals.Skip(from).Where(s => s.Path == path).Select(s => s.Changed).ToList();
    }

    /// <summary>The values <paramref name="property"/> took on a link's path, from signal number <paramref name="from"/> on, repeats collapsed.</summary>
    public List<string> Transitions(string path, string property, int from, string? startingValue)
    {
        var values = new List<string>();
        var last = startingValue;
        lock (_signals)
        {
            foreach (var (signalPath, _, changed) in _signals.Skip(from))
            {
                if (signalPath != path || !changed.TryGetValue(property, out var value) || value == last)
                    continue;
                values.Add(value);
                last = value;
            }
        }
        return values;
    }

    public void Dispose()
    {
        if (!_busctl.HasExited)
            _busctl.Kill();
        _busctl.Dispose();
    }
}
