using System.Collections.Immutable;
using NetworkBroker.Configuration;
using NetworkBroker.Kernel;
using NetworkBroker.Logging;
using NetworkBroker.Networkd;
using NetworkBroker.Scripts;

namespace NetworkBroker.Core;

/// <summary>
/// Turns networkd transitions into script runs: &lt;value&gt;.d for a link's state properties (StateProperties=),
/// manager.d for the manager, with the variables <see cref="EventEnvironment"/> makes for them.
/// </summary>
public sealed class StateScripts(Func<BrokerConfiguration> configuration, ScriptDispatcher scripts, NetworkdFiles files, Logger log,
    Udev.UdevDatabase? udevDatabase = null)
{
    /// <summary>Read at each use: a reload takes effect with the next event.</summary>
    private BrokerConfiguration config => configuration();

    private readonly LinkFiles _files = new LinkFiles(files, udevDatabase ?? new Udev.UdevDatabase(log: log));

    public const string ManagerState = "manager";

    // One signal can change OperationalState and AdministrativeState together: two transitions, one link
    // description. What is made for the first is reused for the second (same link, same states).
    private (int IfIndex, ImmutableDictionary<string, string>? States, Lazy<IReadOnlyList<KeyValuePair<string, string>>>? Deferred) _last;

    /// <summary>The link went away (the kernel said so): what sysfs said of it is not kept for the next one with its ifindex.</summary>
    public void Forget(int ifindex) => _files.Forget(ifindex);

    /// <summary>The kernel was re-read after notifications were lost: a link may have gone and come back unseen.</summary>
    public void ForgetLinks() => _files.ForgetAll();

    /// <summary>Called before the transitions of one event: what was made for another event is not reused.</summary>
    public void BeginEvent() => _last = default;

    /// <param name="observer">run-scripts through the control socket: who waits on this run.</param>
    public void Run(LinkTransition transition, string name, KernelModel kernel, ScriptObserver? observer = null)
    {
        if (!config.Links.Matches(name))
            return;
        var link = log.ForLink(name, transition.IfIndex);
        // The value names a directory: it must be a state word, never a path a peer could smuggle in.
        if (!ScriptVariables.IsStateWord(transition.Value) || ScriptDirectories.NotLinkStates.Contains(transition.Value))
        {
            link.Warn($"Ignoring {transition.Property}=\"{Logging.PeerText.Excerpt(transition.Value)}\": not a state name");
            return;
        }
        link.Info($"{transition.Property} is {transition.Value}");
        if (observer is null && scripts.HoldsNothing(transition.Value))
        {
            NothingToRun(transition.Value, link);
            return;
        }

        var addresses = kernel.Addresses(transition.IfIndex).ToList();
        var environment = EventEnvironment.LinkState(name, transition, addresses);
        if (_last.IfIndex != transition.IfIndex || !ReferenceEquals(_last.States, transition.States))
            _last = (transition.IfIndex, transition.States, EventEnvironment.LinkStateFromFiles(name, transition, addresses, kernel, config, _files));
        scripts.Enqueue(new ScriptEvent(transition.Value, name, transition.IfIndex, environment)
        {
            Deferred = _last.Deferred,
            Observer = observer,
            Remembers = observer is null ? RememberedRun.LinkState(transition.IfIndex, name, transition.Property) : null,
        });
    }

    /// <summary>The state is known to hold nothing to run: its variables are not made (<see cref="ScriptDispatcher.HoldsNothing"/>).</summary>
    private void NothingToRun(string state, LinkLog? link)
    {
        if (!log.IsEnabled(LogLevel.Debug))
            return;
        var text = ScriptRunner.NothingKnown(state);
        if (link is { } l)
            l.Debug(text);
        else
            log.Debug(text);
    }

    /// <summary>run-scripts for what no model makes (an unknown link, routes.d): LINK, LINKINDEX and STATE, the rest from the asker.</summary>
    public void RunSynthesised(string state, string name, int ifindex, ScriptObserver observer) =>
        scripts.Enqueue(new ScriptEvent(state, name, ifindex, EventEnvironment.Requested(name, ifindex, state)) { Observer = observer });

    public void Run(ManagerTransition transition, ScriptObserver? observer = null)
    {
        var environment = EventEnvironment.Manager(transition);
        log.Info($"networkd manager: {string.Join(", ", transition.Changed.Select(c => $"{c.Key}={c.Value}"))}");
        if (observer is null && scripts.HoldsNothing(ManagerState))
        {
            NothingToRun(ManagerState, null);
            return;
        }
        scripts.Enqueue(new ScriptEvent(ManagerState, null, 0, environment) { Observer = observer, Remembers = observer is null ? RememberedRun.Manager : null });
    }
}
