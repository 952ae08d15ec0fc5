using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Ledger.Common;
using NodaTime;
using PdfSharp;
using PdfSharp.Drawing;
using PdfSharp.Pdf;

namespace Ledger.Invoicing;

/// <summary>
/// Renders an invoice to PDF, byte for byte the same for the same document on every machine and
/// at every time: the <c>pdfSha256</c> recorded when the invoice is issued must match every later
/// render (after restarts and projection rebuilds).
/// </summary>
/// <remarks>
/// What PDFsharp 6.2.4 would otherwise take from the clock or from <see cref="Guid.NewGuid"/>,
/// and how it is fixed here:
/// <list type="bullet">
/// <item>document dates: set to the issue instant, in UTC;</item>
/// <item>trailer <c>/ID</c>: set through <c>PdfDocument.Internals.FirstDocumentID/SecondDocumentID</c> before saving;</item>
/// <item>font subset tags (<c>/ABCDEF+DejaVuSans</c>): renamed through the document's object model before saving;</item>
/// <item>XMP <c>xmpMM:DocumentID</c>/<c>InstanceID</c>: created inside <c>Save</c> with no API to set them
/// (PDFsharp 7 stops writing this stream); rewritten in place with values of the same length, so no offset moves.</item>
/// </list>
/// Dates are formatted under the invariant culture, whatever the culture of the calling thread.
/// Streams are written uncompressed so the bytes do not depend on the runtime's zlib build either.
/// Fonts, PDFsharp's version and this file are part of every invoice's bytes: a change to any of
/// them changes the PDF of invoices already issued (see the golden hash test).
/// </remarks>
public static partial class InvoicePdf
{
    public static byte[] Render(InvoiceDocument invoice, SellerInfo seller)
    {
        // PDFsharp formats the document dates with the current culture (a Hijri year under ar-SA):
        // render under the invariant culture. Render never awaits, so the thread's culture is ours until restored.
        var culture = CultureInfo.CurrentCulture;
        CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
        try
        {
            return RenderInvariant(invoice, seller);
        }
        finally
        {
            CultureInfo.CurrentCulture = culture;
        }
    }

    private static byte[] RenderInvariant(InvoiceDocument invoice, SellerInfo seller)
    {
        InvoiceFonts.EnsureRegistered();
        var id = DocumentId(invoice);

        using var document = new PdfDocument();
        document.Options.NoCompression = true;
        document.Options.CompressContentStreams = false;
        var issuedUtc = invoice.IssuedAt.UtcDateTime;
        document.Info.CreationDate = issuedUtc;
        document.Info.ModificationDate = issuedUtc;
        // Only ids here: PDFsharp copies these into its XMP packet without escaping them for XML.
        document.Info.Title = "Invoice " + invoice.Id;
        document.Info.Subject = $"Usage invoice for customer {invoice.CustomerId}, period {invoice.Period}";
        document.Info.Creator = "Ledger";
        var rawId = new string([.. id.Select(b => (char)b)]);
        document.Internals.FirstDocumentID = rawId;
        document.Internals.SecondDocumentID = rawId;

        new InvoiceLayout(document, invoice, seller).Draw();
        FixFontSubsetTags(document);

        using var stream = new MemoryStream();
        document.Save(stream, false);
        var bytes = stream.ToArray();
        var xmpId = new Guid(id, bigEndian: true).ToString("D"); // the trailer /ID's bytes, in order
        Rewrite(bytes, "<xmpMM:DocumentID>uuid:", xmpId);
        Rewrite(bytes, "<xmpMM:InstanceID>uuid:", xmpId);
        return bytes;
    }

    /// <summary>The SHA-256 of the PDF bytes, lowercase hex: what the invoice event records.</summary>
    public static string Sha256(byte[] pdf) => Convert.ToHexStringLower(SHA256.HashData(pdf));

    /// <summary>Invoice amounts as printed: the currency's minor unit, with thousands separators.</summary>
    public static string FormatAmount(decimal amount, string currency)
    {
        var decimals = Currencies.MinorUnits(currency);
        return Money.Round(amount, decimals).ToString("N" + decimals.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
    }

    /// <summary>16 bytes that identify the invoice document: the PDF's file identifier.</summary>
    private static byte[] DocumentId(InvoiceDocument invoice) =>
        SHA256.HashData(Encoding.UTF8.GetBytes($"ledger-invoice\n{invoice.Id}\n{invoice.IssuedAt.UtcTicks.ToString(CultureInfo.InvariantCulture)}"))[..16];

    /// <summary>
    /// PDFsharp tags each embedded font subset with six random letters. The tag only has to differ
    /// between subsets of one document, so it is derived from the font name and its order instead.
    /// </summary>
    private static void FixFontSubsetTags(PdfDocument document)
    {
        var renamed = new Dictionary<string, string>(StringComparer.Ordinal);
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var dictionary in document.Internals.GetAllObjects().OfType<PdfDictionary>())
        {
            foreach (var key in (string[])["/BaseFont", "/FontName"])
            {
                var name = dictionary.Elements.GetName(key);
                var match = SubsetName().Match(name);
                if (!match.Success) continue;
                if (!renamed.TryGetValue(name, out var fixedName))
                {
                    var font = match.Groups["font"].Value;
                    var ordinal = seen[font] = seen.GetValueOrDefault(font) + 1;
                    var hash = SHA256.HashData(Encoding.UTF8.GetBytes($"{font}#{ordinal.ToString(CultureInfo.InvariantCulture)}"));
                    fixedName = "/" + new string([.. hash[..6].Select(b => (char)('A' + b % 26))]) + "+" + font;
                    renamed[name] = fixedName;
                }

                dictionary.Elements.SetName(key, fixedName);
            }
        }
    }

    /// <summary>Overwrites the 36-character uuid after <paramref name="marker"/>, which must occur exactly once.</summary>
    private static void Rewrite(byte[] pdf, string marker, string uuid)
    {
        var markerBytes = Encoding.ASCII.GetBytes(marker);
        var span = pdf.AsSpan();
        var at = span.IndexOf(markerBytes);
        if (at < 0 || span[(at + 1)..].IndexOf(markerBytes) >= 0)
            throw new InvalidOperationException($"Expected exactly one {marker} in the PDF written by PDFsharp.");
        var value = span.Slice(at + markerBytes.Length, uuid.Length);
        if (!Guid.TryParseExact(Encoding.ASCII.GetString(value), "D", out _))
            throw new InvalidOperationException($"Expected a uuid after {marker} in the PDF written by PDFsharp.");
        Encoding.ASCII.GetBytes(uuid).CopyTo(value);
    }

    [GeneratedRegex("^/[A-Z]{6}\\+(?<font>.+)$", RegexOptions.CultureInvariant)]
    private static partial Regex SubsetName();

    /// <summary>Draws the invoice on as many A4 pages as its lines need.</summary>
    private sealed class InvoiceLayout(PdfDocument document, InvoiceDocument invoice, SellerInfo seller)
    {
        private const double PageWidth = 595.28;   // A4 in points
        private const double PageHeight = 841.89;
        private const double Left = 50;
        private const double Right = PageWidth - 50;
        private const double Top = 52;
        private const double ContentBottom = PageHeight - 78;
        private const double CellPadding = 8;

        // Table columns, from the right edge: amount, unit price, quantity, late marker; the description takes the rest.
        private const double AmountRight = Right - CellPadding;
        private const double UnitPriceRight = AmountRight - 84;
        private const double QuantityRight = UnitPriceRight - 78;
        private const double LateRight = QuantityRight - 74;
        private const double LateWidth = 40;
        private const double DescriptionLeft = Left + CellPadding;
        private const double DescriptionWidth = LateRight - LateWidth - 10 - DescriptionLeft;

        // Instance fields: an XFont resolves its face when created, which needs the font resolver set first.
        private readonly XFont _sellerFont = Font(13, bold: true);
        private readonly XFont _titleFont = Font(22, bold: true);
        private readonly XFont _invoiceIdFont = Font(10.5, bold: true);
        private readonly XFont _bodyFont = Font(8.5);
        private readonly XFont _bodyBoldFont = Font(8.5, bold: true);
        private readonly XFont _labelFont = Font(7, bold: true);
        private readonly XFont _customerFont = Font(11, bold: true);
        private readonly XFont _totalDueFont = Font(15, bold: true);
        private readonly XFont _totalFont = Font(10.5, bold: true);
        private readonly XFont _smallFont = Font(7);

        private static readonly XBrush Ink = new XSolidBrush(XColor.FromArgb(0x1A, 0x20, 0x2C));
        private static readonly XBrush Muted = new XSolidBrush(XColor.FromArgb(0x5F, 0x6B, 0x7A));
        private static readonly XBrush Accent = new XSolidBrush(XColor.FromArgb(0x1F, 0x4E, 0x79));
        private static readonly XBrush Band = new XSolidBrush(XColor.FromArgb(0xEE, 0xF2, 0xF7));
        private static readonly XBrush Zebra = new XSolidBrush(XColor.FromArgb(0xF8, 0xFA, 0xFC));
        private static readonly XBrush LateFill = new XSolidBrush(XColor.FromArgb(0xFC, 0xEF, 0xD9));
        private static readonly XBrush LateInk = new XSolidBrush(XColor.FromArgb(0x95, 0x56, 0x00));
        private static readonly XPen Rule = new(XColor.FromArgb(0xD9, 0xDF, 0xE6), 0.6);
        private static readonly XPen AccentRule = new(XColor.FromArgb(0x1F, 0x4E, 0x79), 1.6);
        private static readonly XPen TotalRule = new(XColor.FromArgb(0x1A, 0x20, 0x2C), 0.8);

        private readonly List<XGraphics> _pages = [];
        private XGraphics _gfx = null!;
        private double _y;

        public void Draw()
        {
            try
            {
                NewPage();
                DrawHeader();
                DrawBillTo();
                DrawLines();
                DrawTotals();
                for (var i = 0; i < _pages.Count; i++) DrawFooter(_pages[i], i + 1);
            }
            finally
            {
                foreach (var page in _pages) page.Dispose();
            }
        }

        private static XFont Font(double size, bool bold = false) =>
            new(InvoiceFonts.Family, size, bold ? XFontStyleEx.Bold : XFontStyleEx.Regular, new XPdfFontOptions(PdfFontEncoding.Unicode));

        private void NewPage()
        {
            var page = document.AddPage();
            page.Size = PageSize.A4;
            _gfx = XGraphics.FromPdfPage(page);
            _pages.Add(_gfx);
            _y = Top;
            if (_pages.Count == 1) return;
            Text($"{invoice.Id} (continued)", _bodyBoldFont, Ink, Left, _y + 8);
            _y += 22;
        }

        private void DrawHeader()
        {
            // Seller, top left.
            var left = _y + 12;
            Text(seller.Name, _sellerFont, Ink, Left, left);
            left += 16;
            var sellerLines = seller.Address.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
                .Append("Tax ID: " + seller.TaxId)
                .Append(seller.Email);
            foreach (var line in sellerLines)
            {
                Text(line, _bodyFont, Muted, Left, left);
                left += 11.5;
            }

            // Title and invoice facts, top right.
            var right = _y + 18;
            Text("INVOICE", _titleFont, Accent, Right, right, alignRight: true);
            right += 17;
            Text(invoice.Id, _invoiceIdFont, Ink, Right, right, alignRight: true);
            right += 16;
            var facts = new (string Label, string Value)[]
            {
                ("Issue date", Date(invoice.IssuedAt)),
                ("Billing period", $"{Date(invoice.PeriodStart)} – {Date(invoice.PeriodEnd.AddTicks(-1))}"),
                ("Time zone", invoice.BillingTimeZone),
            };
            var valueWidth = facts.Max(f => Width(f.Value, _bodyFont));
            foreach (var (label, value) in facts)
            {
                Text(label, _bodyFont, Muted, Right - valueWidth - 12, right, alignRight: true);
                Text(value, _bodyFont, Ink, Right, right, alignRight: true);
                right += 12;
            }

            _y = Math.Max(left, right) + 8;
            _gfx.DrawLine(AccentRule, Left, _y, Right, _y);
            _y += 24;
        }

        private void DrawBillTo()
        {
            var top = _y;
            Text("BILL TO", _labelFont, Muted, Left, top);
            Text(invoice.CustomerName, _customerFont, Ink, Left, top + 16);
            Text("Customer ID: " + invoice.CustomerId, _bodyFont, Muted, Left, top + 30);
            Text("Billing period: " + invoice.Period, _bodyFont, Muted, Left, top + 42);

            // The invoice total, boxed on the right, for the reader who looks for one number.
            const double boxWidth = 190;
            var box = new XRect(Right - boxWidth, top - 12, boxWidth, 58);
            _gfx.DrawRoundedRectangle(Band, box, new XSize(6, 6));
            Text("INVOICE TOTAL", _labelFont, Muted, box.Right - 12, box.Top + 18, alignRight: true);
            Text($"{invoice.Currency} {FormatAmount(invoice.Total, invoice.Currency)}", _totalDueFont, Accent, box.Right - 12, box.Top + 40,
                alignRight: true);

            _y = top + 68;
        }

        private void DrawLines()
        {
            DrawTableHeader();
            if (invoice.Lines.Count == 0)
            {
                Text("No billable usage in this period.", _bodyFont, Muted, DescriptionLeft, _y + 15);
                _y += 23;
                _gfx.DrawLine(Rule, Left, _y, Right, _y);
                return;
            }

            for (var i = 0; i < invoice.Lines.Count; i++)
            {
                var line = invoice.Lines[i];
                var description = Wrap(line.Description, _bodyFont, DescriptionWidth);
                var height = 12 + description.Count * 11;
                if (_y + height > ContentBottom)
                {
                    NewPage();
                    DrawTableHeader();
                }

                if (i % 2 == 1) _gfx.DrawRectangle(Zebra, new XRect(Left, _y, Right - Left, height));
                var baseline = _y + 15;
                for (var d = 0; d < description.Count; d++) Text(description[d], _bodyFont, Ink, DescriptionLeft, baseline + d * 11);
                if (line.Late)
                {
                    var pill = new XRect(LateRight - LateWidth, _y + 6.5, LateWidth, 11);
                    _gfx.DrawRoundedRectangle(LateFill, pill, new XSize(5, 5));
                    _gfx.DrawString("LATE", _labelFont, LateInk, pill, XStringFormats.Center);
                }

                Text(Quantity(line.Quantity), _bodyFont, Ink, QuantityRight, baseline, alignRight: true);
                Text(line.UnitPrice is { } price ? UnitPrice(price) : "—", _bodyFont, line.UnitPrice is null ? Muted : Ink, UnitPriceRight, baseline,
                    alignRight: true);
                Text(FormatAmount(line.Amount, invoice.Currency), _bodyFont, Ink, AmountRight, baseline, alignRight: true);
                _y += height;
                _gfx.DrawLine(Rule, Left, _y, Right, _y);
            }
        }

        private void DrawTableHeader()
        {
            _gfx.DrawRectangle(Band, new XRect(Left, _y, Right - Left, 20));
            var baseline = _y + 13;
            Text("DESCRIPTION", _labelFont, Muted, DescriptionLeft, baseline);
            Text("QUANTITY", _labelFont, Muted, QuantityRight, baseline, alignRight: true);
            Text($"UNIT PRICE ({invoice.Currency})", _labelFont, Muted, UnitPriceRight, baseline, alignRight: true);
            Text($"AMOUNT ({invoice.Currency})", _labelFont, Muted, AmountRight, baseline, alignRight: true);
            _y += 20;
        }

        private void DrawTotals()
        {
            var hasLate = invoice.Lines.Any(l => l.Late);
            if (_y + 90 > ContentBottom) NewPage();
            _y += 16;

            if (hasLate)
            {
                var note = Wrap("LATE marks usage that occurred in a period already closed; it is billed on this invoice.", _smallFont, 230);
                for (var i = 0; i < note.Count; i++) Text(note[i], _smallFont, Muted, Left, _y + 8 + i * 9);
            }

            const double labelLeft = Right - 220;
            var taxRate = (invoice.TaxRate * 100m).ToString("0.####", CultureInfo.InvariantCulture);
            Text("Subtotal", _bodyFont, Muted, labelLeft, _y + 8);
            Text(FormatAmount(invoice.Subtotal, invoice.Currency), _bodyFont, Ink, AmountRight, _y + 8, alignRight: true);
            _y += 16;
            Text($"Tax ({taxRate}%)", _bodyFont, Muted, labelLeft, _y + 8);
            Text(FormatAmount(invoice.Tax, invoice.Currency), _bodyFont, Ink, AmountRight, _y + 8, alignRight: true);
            _y += 16;
            _gfx.DrawLine(TotalRule, labelLeft, _y, Right, _y);
            _y += 6;
            Text($"Total ({invoice.Currency})", _totalFont, Ink, labelLeft, _y + 12);
            Text(FormatAmount(invoice.Total, invoice.Currency), _totalFont, Ink, AmountRight, _y + 12, alignRight: true);
            _y += 20;
        }

        private void DrawFooter(XGraphics gfx, int page)
        {
            const double top = PageHeight - 56;
            gfx.DrawLine(Rule, Left, top, Right, top);
            Draw(gfx, $"All amounts in {invoice.Currency}.", _smallFont, Muted, Left, top + 13);
            Draw(gfx, "Generated by Ledger from the event log; sha256 is recorded with the invoice.", _smallFont, Muted, Left, top + 23);
            var pageText = $"{invoice.Id} · Page {page.ToString(CultureInfo.InvariantCulture)} of {_pages.Count.ToString(CultureInfo.InvariantCulture)}";
            Draw(gfx, pageText, _smallFont, Muted, Right - gfx.MeasureString(pageText, _smallFont).Width, top + 13);
        }

        private void Text(string text, XFont font, XBrush brush, double x, double baseline, bool alignRight = false) =>
            Draw(_gfx, text, font, brush, alignRight ? x - Width(text, font) : x, baseline);

        private static void Draw(XGraphics gfx, string text, XFont font, XBrush brush, double x, double baseline) =>
            gfx.DrawString(text, font, brush, x, baseline, XStringFormats.BaseLineLeft);

        private double Width(string text, XFont font) => _gfx.MeasureString(text, font).Width;

        /// <summary>Greedy word wrap; a word wider than the column is cut where it must be.</summary>
        private List<string> Wrap(string text, XFont font, double width)
        {
            var lines = new List<string>();
            var current = "";
            foreach (var word in text.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                var candidate = current.Length == 0 ? word : current + " " + word;
                if (Width(candidate, font) <= width)
                {
                    current = candidate;
                    continue;
                }

                if (current.Length > 0) lines.Add(current);
                current = word;
                while (Width(current, font) > width && current.Length > 1)
                {
                    var cut = current.Length - 1;
                    while (cut > 1 && Width(current[..cut], font) > width) cut--;
                    lines.Add(current[..cut]);
                    current = current[cut..];
                }
            }

            if (current.Length > 0 || lines.Count == 0) lines.Add(current);
            return lines;
        }

        private string Date(DateTimeOffset instant)
        {
            var zone = DateTimeZoneProviders.Tzdb.GetZoneOrNull(invoice.BillingTimeZone)
                       ?? throw new ArgumentException($"Unknown billing time zone {invoice.BillingTimeZone}.", nameof(invoice));
            var local = Instant.FromDateTimeOffset(instant).InZone(zone).Date;
            return local.ToString("d MMM yyyy", CultureInfo.InvariantCulture);
        }

        private static string Quantity(decimal quantity) => quantity.ToString("#,0.######", CultureInfo.InvariantCulture);

        private static string UnitPrice(decimal price) => price.ToString("#,0.00####", CultureInfo.InvariantCulture);
    }
}
