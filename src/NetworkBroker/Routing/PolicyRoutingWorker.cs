using System.Threading.Channels;
using NetworkBroker.Events;

namespace NetworkBroker.Routing;

/// <summary>
/// Applies policy routing off the broker's loop: the loop computes what is desired (pure, cheap) and submits
/// it; this worker sends the kernel the difference, one request and answer at a time, and posts the outcome
/// back as a <see cref="PolicyRoutingReconciled"/>. Latest wins: a state submitted while an older one waits
/// replaces it, so a burst of changes costs one reconcile, and the loop never waits for the kernel.
/// </summary>
public sealed class PolicyRoutingWorker : IAsyncDisposable
{
    private readonly PolicyRoutingReconciler _reconciler;
    private readonly Func<PolicyRoutingReconciled, ValueTask> _done;
    private readonly Channel<(PolicyRoutingState Desired, PolicyRoutingPresent Present)> _pending =
        Channel.CreateBounded<(PolicyRoutingState, PolicyRoutingPresent)>(new BoundedChannelOptions(1)
        {
            FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true,
        });
    private readonly Task _worker;

    /// <param name="done">Given each outcome (the broker puts it on its channel).</param>
    public PolicyRoutingWorker(PolicyRoutingReconciler reconciler, Func<PolicyRoutingReconciled, ValueTask> done)
    {
        _reconciler = reconciler;
        _done = done;
        _worker = Task.Run(RunAsync);
    }

    public void Submit(PolicyRoutingState desired, PolicyRoutingPresent present) => _pending.Writer.TryWrite((desired, present));

    private async Task RunAsync()
    {
        await foreach (var (desired, present) in _pending.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            var result = _reconciler.Reconcile(desired, present);
            try
            {
                await _done(new PolicyRoutingReconciled(desired, result.Added, result.Removed, result.Failed)).ConfigureAwait(false);
            }
            catch (ChannelClosedException)
            {
                // The broker stopped: nobody to tell.
            }
        }
    }

    /// <summary>Finishes what was submitted, then reconciles once more to <paramref name="final"/> (null: nothing more).</summary>
    public async Task StopAsync((PolicyRoutingState Desired, PolicyRoutingPresent Present)? final = null)
    {
        _pending.Writer.TryComplete();
        await _worker.ConfigureAwait(false);
        if (final is var (desired, present))
            _reconciler.Reconcile(desired, present);
    }

    public async ValueTask DisposeAsync() => await StopAsync().ConfigureAwait(false);
}
