namespace NetworkBroker.Commands;

/// <summary>Exit statuses, as LSB and systemd read them.</summary>
public static class ExitCodes
{
    public const int Success = 0;
    /// <summary>Generic failure; check-config's "the configuration is invalid"; a script that failed under run-scripts.</summary>
    public const int Failure = 1;
    /// <summary>A command line that does not parse.</summary>
    public const int Usage = 2;
    /// <summary>status: the daemon is not running (LSB's "program is not running", as systemctl status says it).</summary>
    public const int NotRunning = 3;
    /// <summary>EXIT_CONFIG (78): systemd shows it as "configuration error".</summary>
    public const int Config = 78;
}
