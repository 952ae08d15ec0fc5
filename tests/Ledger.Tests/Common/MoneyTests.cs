using Ledger.Common;

namespace Ledger.Tests.Common;

public class MoneyTests
{
    [Theory]
    [InlineData("0.005", "INR", "0.01")]
    [InlineData("-0.005", "INR", "-0.01")]
    [InlineData("0.004999", "INR", "0.00")]
    [InlineData("2.345", "USD", "2.35")]
    [InlineData("2.5", "JPY", "3")]
    [InlineData("1.0005", "KWD", "1.001")]
    public void Rounds_half_away_from_zero_to_the_minor_unit(string amount, string currency, string expected)
    {
        var money = new Money(decimal.Parse(amount, System.Globalization.CultureInfo.InvariantCulture), currency);

        money.RoundToMinorUnit().ToMinorUnitString().ShouldBe(expected);
    }

    [Fact]
    public void Ledger_strings_have_six_decimals()
    {
        new Money(473.885m, "INR").ToLedgerString().ShouldBe("473.885000");
        new Money(-0.000001m, "INR").ToLedgerString().ShouldBe("-0.000001");
    }

    [Fact]
    public void Different_currencies_do_not_mix()
    {
        Should.Throw<InvalidOperationException>(() => new Money(1m, "INR") + new Money(1m, "USD"));
        Should.Throw<InvalidOperationException>(() => new Money(1m, "INR") < new Money(1m, "USD"));
    }

    [Theory]
    [InlineData("12.50", true, 2)]
    [InlineData("-12", true, 0)]
    [InlineData("0.115000", true, 6)]
    [InlineData("12.", false, 0)]
    [InlineData(".5", false, 0)]
    [InlineData("+1", false, 0)]
    [InlineData("1e2", false, 0)]
    [InlineData("1 ", false, 0)]
    [InlineData("", false, 0)]
    [InlineData("NaN", false, 0)]
    [InlineData("99999999999999999999999999999999", false, 0)]
    public void Decimal_strings_are_plain_decimal_notation(string text, bool valid, int scale)
    {
        DecimalText.TryParse(text, out _, out var parsedScale).ShouldBe(valid);
        if (valid) parsedScale.ShouldBe(scale);
    }
}
