namespace NetworkBroker.Netlink;

/// <summary>fib rule actions (FR_ACT_*).</summary>
public static class RuleAction
{
    public const byte ToTable = 1;
}
