namespace NetworkBroker.Tests.Support;

/// <summary>A private directory for one test, removed afterwards.</summary>
public sealed class TempDirectory : IDisposable
{
    private const UnixFileMode Mode0755 = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
        UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;

    public TempDirectory()
    {
        Path = Directory.CreateTempSubdirectory("nb-test-").FullName;
        // CreateTempSubdirectory makes it 0700; scripts and their directories are checked for group/other write only.
        File.SetUnixFileMode(Path, Mode0755);
    }

    public string Path { get; }

    public string Combine(params string[] parts) => System.IO.Path.Combine([Path, .. parts]);

    /// <summary>Writes an executable script (0755 unless told otherwise) into STATE.d.</summary>
    public string Script(string state, string name, string body, UnixFileMode mode = Mode0755)
    {
        var directory = Combine(state + ".d");
        Directory.CreateDirectory(directory, Mode0755);
        var path = System.IO.Path.Combine(directory, name);
        File.WriteAllText(path, body.ReplaceLineEndings("\n"));
        File.SetUnixFileMode(path, mode);
        return path;
    }

    public string Write(string name, string text)
    {
        var path = Combine(name);
        File.WriteAllText(path, text);
        return path;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
