using System.Globalization;

namespace NetworkBroker.Scripts;

/// <summary>
/// The three variables every link event starts with, made in one place for every kind (a state, a lease,
/// routes, run-scripts): LINK (the name's exact bytes), LINKINDEX and STATE (the directory that runs).
/// </summary>
public static class LinkVariables
{
    public static List<KeyValuePair<string, string>> Of(string link, int ifindex, string state, int capacity = 16) =>
        new(capacity)
        {
            new("LINK", link),
            new("LINKINDEX", ifindex.ToString(CultureInfo.InvariantCulture)),
            new("STATE", state),
        };
}
