using PdfSharp.Fonts;

namespace Ledger.Invoicing;

/// <summary>
/// The fonts of invoice PDFs: DejaVu Sans regular and bold, embedded in this assembly, so a PDF
/// does not depend on the fonts of the machine that renders it.
/// </summary>
internal sealed class InvoiceFonts : IFontResolver
{
    public const string Family = "DejaVu Sans";

    private const string Regular = "DejaVuSans";
    private const string Bold = "DejaVuSans-Bold";

    private static readonly Lock RegistrationLock = new();
    private static readonly Lazy<byte[]> RegularBytes = new(() => Load(Regular));
    private static readonly Lazy<byte[]> BoldBytes = new(() => Load(Bold));

    /// <summary>
    /// Sets the process-wide PDFsharp font resolver once. PDFsharp allows a single resolver per
    /// process and refuses a change after the first use, so concurrent callers take a lock.
    /// </summary>
    public static void EnsureRegistered()
    {
        if (GlobalFontSettings.FontResolver is InvoiceFonts) return;
        lock (RegistrationLock)
        {
            switch (GlobalFontSettings.FontResolver)
            {
                case null:
                    GlobalFontSettings.FontResolver = new InvoiceFonts();
                    break;
                case InvoiceFonts:
                    break;
                case var other:
                    throw new InvalidOperationException(
                        $"PDFsharp already uses the font resolver {other.GetType().FullName}; invoices need {typeof(InvoiceFonts).FullName}.");
            }
        }
    }

    public FontResolverInfo? ResolveTypeface(string familyName, bool bold, bool italic) =>
        string.Equals(familyName, Family, StringComparison.OrdinalIgnoreCase)
            ? new FontResolverInfo(bold ? Bold : Regular)
            : null;

    public byte[]? GetFont(string faceName) => faceName switch
    {
        Regular => RegularBytes.Value,
        Bold => BoldBytes.Value,
        _ => null,
    };

    private static byte[] Load(string face)
    {
        var name = $"Ledger.Invoicing.Fonts.{face}.ttf";
        using var stream = typeof(InvoiceFonts).Assembly.GetManifestResourceStream(name)
                           ?? throw new InvalidOperationException($"The font resource {name} is missing from the assembly.");
        using var bytes = new MemoryStream();
        stream.CopyTo(bytes);
        return bytes.ToArray();
    }
}
