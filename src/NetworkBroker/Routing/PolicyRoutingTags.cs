namespace NetworkBroker.Routing;

/// <summary>How the broker marks the rules and routes it owns, so that it touches no others and finds its own after a restart.</summary>
public static class PolicyRoutingTags
{
    /// <summary>rtm_protocol / FRA_PROTOCOL of everything the broker creates; named "network-broker" in /etc/iproute2/rt_protos.d.</summary>
    public const byte Protocol = 250;
}
