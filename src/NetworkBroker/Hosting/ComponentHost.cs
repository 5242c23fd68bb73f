using NetworkBroker.Configuration;
using NetworkBroker.Logging;

namespace NetworkBroker.Hosting;

/// <summary>
/// Starts components in registration order and stops them in reverse: the daemon and the integration tests compose
/// the same components through it (<see cref="Daemon"/>).
/// </summary>
public sealed class ComponentHost(Logger log)
{
    private readonly List<Component> _components = [];
    private readonly List<Component> _started = [];
    private bool _stopped;

    public T Add<T>(T component) where T : Component
    {
        if (_started.Count > 0)
            throw new InvalidOperationException($"{component.Name}: components are added before the host starts");
        _components.Add(component);
        return component;
    }

    /// <summary>Starts every component in order; when one fails, those started are stopped in reverse and the error is thrown.</summary>
    public async Task StartAsync(CancellationToken cancellation)
    {
        foreach (var component in _components)
        {
            try
            {
                await component.StartAsync(cancellation).ConfigureAwait(false);
            }
            catch
            {
                await StopAsync().ConfigureAwait(false);
                throw;
            }
            _started.Add(component);
        }
    }

    /// <summary>
    /// Waits until every component's first state is in, at most <paramref name="timeout"/>; then tells each that the
    /// host started. False (and a warning naming the late ones) when the wait gave up: they keep trying.
    /// </summary>
    public async Task<bool> WaitReadyAsync(TimeSpan timeout)
    {
        var ready = true;
        try
        {
            await Task.WhenAll(_started.Select(c => c.Ready)).WaitAsync(timeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            var late = string.Join(", ", _started.Where(c => !c.Ready.IsCompleted).Select(c => c.Name));
            log.Warn($"Not ready after {timeout.TotalSeconds:0} s: {late}; reporting ready anyway, they keep trying");
            ready = false;
        }
        foreach (var component in _started)
            await component.StartedAsync().ConfigureAwait(false);
        return ready;
    }

    /// <summary>Applies a new configuration to every component in order; one that fails does not keep the others from it.</summary>
    public async Task ReloadAsync(BrokerConfiguration config)
    {
        List<Exception>? failed = null;
        foreach (var component in _started)
        {
            try
            {
                await component.ReloadAsync(config).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                (failed ??= []).Add(new InvalidOperationException($"{component.Name}: {e.Message}", e));
            }
        }
        if (failed is not null)
            throw new AggregateException(failed);
    }

    /// <summary>Tells every started component that stopping begins, then stops each, in reverse order. Once.</summary>
    public async Task StopAsync()
    {
        if (_stopped)
            return;
        _stopped = true;
        for (var i = _started.Count - 1; i >= 0; i--)
        {
            try
            {
                _started[i].Stopping();
            }
            catch (Exception e)
            {
                log.Error($"Stopping {_started[i].Name} failed: {e.Message}");
            }
        }
        for (var i = _started.Count - 1; i >= 0; i--)
            await Guard(_started[i], c => c.StopAsync()).ConfigureAwait(false);
    }

    private async Task Guard(Component component, Func<Component, Task> step)
    {
        try
        {
            await step(component).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            // A component that fails to stop must not keep the ones before it from stopping.
            log.Error($"Stopping {component.Name} failed: {e.Message}");
        }
    }
}
