namespace NetworkBroker.Commands;

/// <summary>Several sources disposed as one (a using for a list).</summary>
internal sealed class Disposables(IReadOnlyList<IDisposable> items) : IDisposable
{
    public void Dispose()
    {
        foreach (var item in items)
            item.Dispose();
    }
}
