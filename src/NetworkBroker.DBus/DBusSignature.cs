namespace NetworkBroker.DBus;

/// <summary>Type signatures: validation, the length of one complete type, alignment of a type code.</summary>
public static class DBusSignature
{
    public const int MaxLength = 255;

    public static int Alignment(char type) => type switch
    {
        'y' or 'g' or 'v' => 1,
        'n' or 'q' => 2,
        'b' or 'i' or 'u' or 'h' or 's' or 'o' or 'a' => 4,
        'x' or 't' or 'd' or '(' or '{' => 8,
        _ => throw new DBusFormatException($"unknown type '{type}'"),
    };

    /// <summary>The length of the complete type at the start of <paramref name="signature"/>.</summary>
    public static int CompleteTypeLength(ReadOnlySpan<char> signature) => Length(signature, 0, 0);

    public static int CountCompleteTypes(ReadOnlySpan<char> signature)
    {
        var count = 0;
        while (!signature.IsEmpty)
        {
            signature = signature[CompleteTypeLength(signature)..];
            count++;
        }
        return count;
    }

    public static void Validate(string signature)
    {
        if (signature.Length > MaxLength)
            throw new DBusFormatException($"signature longer than {MaxLength}");
        CountCompleteTypes(signature);
    }

    /// <summary>The length of the complete type at s[0]; nesting is counted against the spec's 32 + 32 limit.</summary>
    private static int Length(ReadOnlySpan<char> s, int arrays, int structs)
    {
        if (s.IsEmpty)
            throw new DBusFormatException("signature ends inside a type");
        if (arrays > 32 || structs > 32)
            throw new DBusFormatException("signature nests too deep");
        switch (s[0])
        {
            case 'y' or 'b' or 'n' or 'q' or 'i' or 'u' or 'x' or 't' or 'd' or 'h' or 's' or 'o' or 'g' or 'v':
                return 1;
            case 'a' when s.Length > 1 && s[1] == '{':
            {
                // A dict entry: a basic key, one complete value, '}'; allowed only as an array's element.
                if (s.Length < 3 || !IsBasic(s[2]))
                    throw new DBusFormatException("a dict key must be a basic type");
                var end = 3 + Length(s[3..], arrays + 1, structs + 1);
                if (end >= s.Length || s[end] != '}')
                    throw new DBusFormatException("a dict entry has exactly a key and a value");
                return end + 1;
            }
            case 'a':
                return 1 + Length(s[1..], arrays + 1, structs);
            case '(':
            {
                var i = 1;
                if (i < s.Length && s[i] == ')')
                    throw new DBusFormatException("empty struct");
                while (i < s.Length && s[i] != ')')
                    i += Length(s[i..], arrays, structs + 1);
                if (i >= s.Length)
                    throw new DBusFormatException("unclosed struct");
                return i + 1;
            }
            default:
                throw new DBusFormatException($"unexpected '{s[0]}' in a signature");
        }
    }

    private static bool IsBasic(char c) => c is 'y' or 'b' or 'n' or 'q' or 'i' or 'u' or 'x' or 't' or 'd' or 'h' or 's' or 'o' or 'g';
}
