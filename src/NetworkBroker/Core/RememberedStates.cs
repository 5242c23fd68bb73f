using System.Buffers;
using System.Collections.Immutable;
using System.Globalization;
using System.Text;
using NetworkBroker.Scripts;

namespace NetworkBroker.Core;

/// <summary>
/// What the daemon last ran scripts for, within one boot: every link's networkd states, the manager's, and
/// every dhclient lease (its identity and expiry). Kept in the runtime directory across restarts, so that a
/// restart runs only what changed while the daemon was stopped, and a boot (a new boot ID, or no file) runs
/// every current state once. Pure: the text form is written and read here, the file is <see cref="StateMemory"/>'s.
/// </summary>
public sealed record RememberedStates(
    string BootId,
    ImmutableDictionary<int, ImmutableDictionary<string, string>> Links,
    ImmutableDictionary<int, string> Names,
    ImmutableDictionary<string, string> Manager,
    ImmutableDictionary<LeaseKey, string> Leases)
{
    public static RememberedStates Empty(string bootId) => new(bootId, ImmutableDictionary<int, ImmutableDictionary<string, string>>.Empty,
        ImmutableDictionary<int, string>.Empty, ImmutableDictionary<string, string>.Empty, ImmutableDictionary<LeaseKey, string>.Empty);

    /// <summary>The link's states as last run, when ifindex and name still go together (an ifindex can be reused).</summary>
    public ImmutableDictionary<string, string>? Link(int index, string? name) =>
        Links.TryGetValue(index, out var states) && (name is null || Names.GetValueOrDefault(index) is not { } known || known == name) ? states : null;

    /// <summary>
    /// Without what the runs named stand for (they were dropped at stop): they run again at the next start, and
    /// nothing else does (a link's other properties stay remembered).
    /// </summary>
    public RememberedStates Without(IEnumerable<RememberedRun> runs)
    {
        var result = this;
        foreach (var run in runs)
            result = run.Kind switch
            {
                RememberedRunKind.Manager => result with { Manager = ImmutableDictionary<string, string>.Empty },
                RememberedRunKind.LinkState when run.Property is { } property && result.Links.TryGetValue(run.IfIndex, out var states) =>
                    result with { Links = result.Links.SetItem(run.IfIndex, states.Remove(property)) },
                RememberedRunKind.Lease => result with { Leases = result.Leases.RemoveRange(result.Leases.Keys.Where(k => k.Interface == run.Name)) },
                _ => result,
            };
        return result;
    }

    /// <summary>What <see cref="Without"/> leaves out for a set of runs, as sets kept and refilled by the one writer.</summary>
    public sealed class Omitted
    {
        /// <summary>The links with a property left out, and the (ifindex, property) pairs left out.</summary>
        public HashSet<int> Links { get; } = [];
        public HashSet<(int IfIndex, string Property)> LinkStates { get; } = [];
        public HashSet<string> Interfaces { get; } = new(StringComparer.Ordinal);
        public bool Manager { get; private set; }

        public bool IsEmpty => !Manager && Links.Count == 0 && Interfaces.Count == 0;

        /// <summary>Refilled with the runs.</summary>
        public void Set(IEnumerable<RememberedRun> runs)
        {
            Links.Clear();
            LinkStates.Clear();
            Interfaces.Clear();
            Manager = false;
            foreach (var run in runs)
                switch (run.Kind)
                {
                    case RememberedRunKind.Manager:
                        Manager = true;
                        break;
                    case RememberedRunKind.LinkState when run.Property is { } property:
                        Links.Add(run.IfIndex);
                        LinkStates.Add((run.IfIndex, property));
                        break;
                    case RememberedRunKind.Lease when run.Name is { } name:
                        Interfaces.Add(name);
                        break;
                }
            BurstCapacity.TrimAfterBurst(Links);
            BurstCapacity.TrimAfterBurst(LinkStates);
            BurstCapacity.TrimAfterBurst(Interfaces);
        }
    }

    private const string Header = "# network-broker: the states scripts last ran for, this boot only (written by the daemon)";

    /// <summary>The text form (ASCII: <see cref="Escape"/> leaves nothing else).</summary>
    public string Format()
    {
        var bytes = new ArrayBufferWriter<byte>(64 + 96 * Links.Count);
        WriteTo(bytes);
        return Encoding.ASCII.GetString(bytes.WrittenSpan);
    }

    /// <summary>
    /// The text form into <paramref name="output"/>, in the order <see cref="Format"/> gives. Every event rewrites the
    /// file with every link: with 1,000 links, formatting through strings allocated 897,000 bytes per write (a
    /// StringBuilder, the string, its UTF-8 copy, OrderBy, an enumerator per value), most of it on the large-object heap,
    /// and the daemon's heap grew with it (RSS 28.7 MB settled beside 1,000 links); into a reused buffer, 496 bytes.
    /// </summary>
    public void WriteTo(IBufferWriter<byte> output) => WriteTo(output, null);

    /// <summary>
    /// <see cref="WriteTo(IBufferWriter{byte})"/> of <see cref="Without"/>(<paramref name="without"/>), without making it:
    /// at a start that replays 1,000 links, each write left out the queued runs one immutable copy at a time (851,016
    /// bytes per write with 1,000 of them; about half of that start's allocations in a CPU profile's allocation paths).
    /// </summary>
    public void WriteTo(IBufferWriter<byte> output, Omitted? without)
    {
        Append(output, Header);
        Append(output, "\nboot ");
        AppendEscaped(output, BootId);
        Append(output, "\n");
        var indexes = ArrayPool<int>.Shared.Rent(Links.Count);
        var count = 0;
        foreach (var index in Links.Keys)
            indexes[count++] = index;
        Array.Sort(indexes, 0, count);
        for (var i = 0; i < count; i++)
            WriteLink(output, indexes[i], Names.GetValueOrDefault(indexes[i]) ?? "", Links[indexes[i]],
                without is not null && without.Links.Contains(indexes[i]) ? (without, indexes[i]) : null);
        ArrayPool<int>.Shared.Return(indexes);
        if (!Manager.IsEmpty && without is not { Manager: true })
            WriteManager(output, Manager);
        foreach (var (key, value) in Leases.OrderBy(l => l.Key.Path, StringComparer.Ordinal).ThenBy(l => l.Key.Interface, StringComparer.Ordinal).ThenBy(l => l.Key.Family))
        {
            if (without is not null && without.Interfaces.Contains(key.Interface))
                continue;
            WriteLease(output, key, value);
        }
    }

    /// <summary><c>link IFINDEX NAME PROPERTY=VALUE...</c>: the link's states (a later line for the same ifindex replaces it).</summary>
    internal static void WriteLink(IBufferWriter<byte> output, int index, string name, ImmutableDictionary<string, string> states,
        (Omitted Set, int IfIndex)? omitted = null)
    {
        Append(output, "link ");
        AppendNumber(output, index);
        Append(output, " ");
        AppendEscaped(output, name);
        AppendStates(output, states, omitted);
    }

    /// <summary><c>manager PROPERTY=VALUE...</c> (a later line replaces it; one with no states says none).</summary>
    internal static void WriteManager(IBufferWriter<byte> output, ImmutableDictionary<string, string> states)
    {
        Append(output, "manager");
        AppendStates(output, states, null);
    }

    /// <summary><c>lease PATH INTERFACE FAMILY VALUE</c> (a later line for the same lease replaces it).</summary>
    internal static void WriteLease(IBufferWriter<byte> output, LeaseKey key, string value)
    {
        Append(output, "lease ");
        WriteLeaseKey(output, key);
        Append(output, " ");
        AppendEscaped(output, value);
        Append(output, "\n");
    }

    /// <summary><c>forget link IFINDEX</c>: the link is gone.</summary>
    internal static void WriteForgetLink(IBufferWriter<byte> output, int index)
    {
        Append(output, "forget link ");
        AppendNumber(output, index);
        Append(output, "\n");
    }

    /// <summary><c>forget lease PATH INTERFACE FAMILY</c>: the lease is gone.</summary>
    internal static void WriteForgetLease(IBufferWriter<byte> output, LeaseKey key)
    {
        Append(output, "forget lease ");
        WriteLeaseKey(output, key);
        Append(output, "\n");
    }

    private static void WriteLeaseKey(IBufferWriter<byte> output, LeaseKey key)
    {
        AppendEscaped(output, key.Path);
        Append(output, " ");
        AppendEscaped(output, key.Interface);
        Append(output, " ");
        AppendNumber(output, key.Family);
    }

    private static void AppendNumber(IBufferWriter<byte> output, int value)
    {
        Span<byte> number = stackalloc byte[11];
        value.TryFormat(number, out var written, default, CultureInfo.InvariantCulture);
        output.Write(number[..written]);
    }

    /// <summary>
    /// The line appended to the file when a run is queued: a reader forgets what the lines before it say of what the
    /// run stands for, as <see cref="Without"/> does, so a crash before the run runs it at the next start. One short
    /// append instead of a whole new file; the next full write leaves it out for as long as the run is queued.
    /// (Earlier versions marked a whole link, <c>queued link IFINDEX NAME</c>: still read, as that link's states and
    /// its interface's leases.)
    /// </summary>
    public static void WriteQueued(IBufferWriter<byte> output, RememberedRun run)
    {
        switch (run.Kind)
        {
            case RememberedRunKind.Manager:
                Append(output, "queued manager\n");
                return;
            case RememberedRunKind.Lease:
                Append(output, "queued lease ");
                AppendEscaped(output, run.Name ?? "");
                Append(output, "\n");
                return;
        }
        Append(output, "queued state ");
        AppendNumber(output, run.IfIndex);
        Append(output, " ");
        AppendEscaped(output, run.Name ?? "");
        Append(output, " ");
        Append(output, run.Property ?? "");
        Append(output, "\n");
    }

    /// <param name="omitted">The link whose properties <see cref="Omitted"/> names are left out, or null.</param>
    private static void AppendStates(IBufferWriter<byte> output, ImmutableDictionary<string, string> states, (Omitted Set, int IfIndex)? omitted)
    {
        // A handful of properties: sorted by insertion into a pooled array, not through OrderBy.
        var sorted = ArrayPool<KeyValuePair<string, string>>.Shared.Rent(states.Count);
        var count = 0;
        foreach (var state in states)
        {
            if (omitted is { } o && o.Set.LinkStates.Contains((o.IfIndex, state.Key)))
                continue;
            var at = count++;
            while (at > 0 && string.CompareOrdinal(sorted[at - 1].Key, state.Key) > 0)
            {
                sorted[at] = sorted[at - 1];
                at--;
            }
            sorted[at] = state;
        }
        foreach (var (property, value) in sorted.AsSpan(0, count))
        {
            Append(output, " ");
            Append(output, property);
            Append(output, "=");
            AppendEscaped(output, value);
        }
        ArrayPool<KeyValuePair<string, string>>.Shared.Return(sorted, clearArray: true);
        Append(output, "\n");
    }

    private static void Append(IBufferWriter<byte> output, string ascii)
    {
        var span = output.GetSpan(ascii.Length);
        for (var i = 0; i < ascii.Length; i++)
            span[i] = (byte)ascii[i];
        output.Advance(ascii.Length);
    }

    private static bool Plain(char c) => c is > ' ' and < (char)0x7f and not '%' and not '=';

    /// <summary><see cref="Escape"/>'s form, written without a string.</summary>
    private static void AppendEscaped(IBufferWriter<byte> output, string value)
    {
        if (value.Length == 0)
        {
            Append(output, "%");
            return;
        }
        var span = output.GetSpan(value.Length * 5);
        var length = 0;
        foreach (var c in value)
        {
            if (Plain(c))
            {
                span[length++] = (byte)c;
                continue;
            }
            span[length++] = (byte)'%';
            ((int)c).TryFormat(span[length..], out var written, "x4", CultureInfo.InvariantCulture);
            length += written;
        }
        output.Advance(length);
    }

    /// <summary>
    /// Reads the text form; a line that is not exactly what <see cref="Format"/> writes is an error naming it, and so is
    /// a last line without its newline: a write cut short (a full disk) may have torn a mark in its name, and a mark
    /// read so would forget the link but not its interface's leases. Refused, the file makes every state run once.
    /// </summary>
    /// <exception cref="FormatException">The text is not a remembered-states file.</exception>
    public static RememberedStates Parse(string text)
    {
        if (text.Length > 0 && text[^1] != '\n')
            throw new FormatException($"line {text.AsSpan().Count('\n') + 1}: cut short (no newline at its end)");
        string? boot = null;
        var links = ImmutableDictionary.CreateBuilder<int, ImmutableDictionary<string, string>>();
        var names = ImmutableDictionary.CreateBuilder<int, string>();
        var manager = ImmutableDictionary<string, string>.Empty;
        var leases = ImmutableDictionary.CreateBuilder<LeaseKey, string>();
        var number = 0;
        foreach (var line in text.Split('\n'))
        {
            number++;
            if (line.Length == 0 || line[0] == '#')
                continue;
            var words = line.Split(' ');
            switch (words[0])
            {
                case "boot" when words.Length == 2 && boot is null:
                    boot = Unescape(words[1], number);
                    break;
                // A later line for the same link, manager or lease replaces the earlier: written appended, after a change.
                case "link" when words.Length >= 3 && int.TryParse(words[1], NumberStyles.None, CultureInfo.InvariantCulture, out var index) && index > 0:
                    links[index] = States(words.AsSpan(3), ScriptVariables.LinkStates, number);
                    if (Unescape(words[2], number) is { Length: > 0 } name)
                        names[index] = name;
                    else
                        names.Remove(index);
                    break;
                case "manager":
                    manager = States(words.AsSpan(1), ScriptVariables.ManagerStates, number);
                    break;
                case "forget" when words is [_, "link", _] && boot is not null
                                   && int.TryParse(words[2], NumberStyles.None, CultureInfo.InvariantCulture, out var gone) && gone > 0:
                    links.Remove(gone);
                    names.Remove(gone);
                    break;
                case "forget" when words is [_, "lease", _, _, _] && boot is not null
                                   && int.TryParse(words[4], NumberStyles.None, CultureInfo.InvariantCulture, out var goneFamily) && goneFamily is 4 or 6:
                    leases.Remove(new LeaseKey(Unescape(words[2], number), Unescape(words[3], number), goneFamily));
                    break;
                case "lease" when words.Length == 5 && int.TryParse(words[3], NumberStyles.None, CultureInfo.InvariantCulture, out var family)
                                  && family is 4 or 6:
                    leases[new LeaseKey(Unescape(words[1], number), Unescape(words[2], number), family)] = Unescape(words[4], number);
                    break;
                case "queued" when words is [_, "manager"] && boot is not null:
                    manager = ImmutableDictionary<string, string>.Empty;
                    break;
                case "queued" when words is [_, "state", _, _, var queuedProperty] && boot is not null
                                   && int.TryParse(words[2], NumberStyles.None, CultureInfo.InvariantCulture, out var stateIndex) && stateIndex > 0
                                   && ScriptVariables.KnownName(ScriptVariables.LinkStates, queuedProperty) is { } known:
                    Unescape(words[3], number); // the name: checked as every name is, not needed (the ifindex says the link)
                    if (links.TryGetValue(stateIndex, out var queuedStates))
                        links[stateIndex] = queuedStates.Remove(known);
                    break;
                case "queued" when words is [_, "lease", var leaseInterface] && boot is not null:
                    ForgetLeasesOf(Unescape(leaseInterface, number));
                    break;
                case "queued" when words is [_, "link", _, _] && boot is not null
                                   && int.TryParse(words[2], NumberStyles.None, CultureInfo.InvariantCulture, out var queued):
                    // ifindex 0 with a name: a lease's run for an interface networkd did not name.
                    links.Remove(queued);
                    names.Remove(queued);
                    if (Unescape(words[3], number) is { Length: > 0 } interfaceName)
                        ForgetLeasesOf(interfaceName);
                    break;
                default:
                    throw new FormatException($"line {number}: not a remembered state");
            }
        }
        if (boot is null)
            throw new FormatException("no boot line");
        return new RememberedStates(boot, links.ToImmutable(), names.ToImmutable(), manager, leases.ToImmutable());

        // A queued lease run's mark, or an earlier version's whole-link mark: the interface's leases are forgotten.
        void ForgetLeasesOf(string interfaceName)
        {
            foreach (var key in leases.Keys.Where(k => k.Interface == interfaceName).ToList())
                leases.Remove(key);
        }
    }

    private static ImmutableDictionary<string, string> States(ReadOnlySpan<string> words, IReadOnlyList<string> known, int number)
    {
        var states = ImmutableDictionary.CreateBuilder<string, string>();
        foreach (var word in words)
        {
            var equals = word.IndexOf('=');
            var property = equals <= 0 ? null : ScriptVariables.KnownName(known, word.AsSpan(0, equals));
            if (property is null)
                throw new FormatException($"line {number}: not a state");
            var value = Unescape(word[(equals + 1)..], number);
            if (!ScriptVariables.IsStateWord(value) || !states.TryAdd(property, ScriptVariables.SharedStateWord(value)))
                throw new FormatException($"line {number}: not a state");
        }
        return states.ToImmutable();
    }

    /// <summary>Every character outside printable ASCII, and the separators, as %XXXX (one UTF-16 unit): names are bytes.</summary>
    internal static string Escape(string value)
    {
        if (value.Length > 0 && !value.AsSpan().ContainsAnyExcept(PlainCharacters))
            return value;
        var bytes = new ArrayBufferWriter<byte>(value.Length * 5 + 1);
        AppendEscaped(bytes, value);
        return Encoding.ASCII.GetString(bytes.WrittenSpan);
    }

    private static readonly SearchValues<char> PlainCharacters =
        SearchValues.Create(Enumerable.Range('!', 0x7f - '!').Select(c => (char)c).Where(Plain).ToArray());

    internal static string Unescape(string word, int number)
    {
        if (word == "%")
            return "";
        if (!word.Contains('%'))
            return word;
        var text = new StringBuilder(word.Length);
        for (var i = 0; i < word.Length; i++)
        {
            if (word[i] != '%')
            {
                text.Append(word[i]);
                continue;
            }
            if (i + 4 >= word.Length || !ushort.TryParse(word.AsSpan(i + 1, 4), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var unit))
                throw new FormatException($"line {number}: bad escape");
            text.Append((char)unit);
            i += 4;
        }
        return text.ToString();
    }
}

/// <summary>A dhclient lease's place: its file, interface and address family.</summary>
public readonly record struct LeaseKey(string Path, string Interface, int Family);
