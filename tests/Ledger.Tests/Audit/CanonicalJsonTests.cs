using System.Buffers;
using System.Text;
using System.Text.Json;
using Ledger.Audit;

namespace Ledger.Tests.Audit;

/// <summary>The canonical form docs/audit.md specifies, rule by rule.</summary>
public class CanonicalJsonTests
{
    private static string Canonical(string json)
    {
        using var document = JsonDocument.Parse(json);
        var buffer = new ArrayBufferWriter<byte>();
        CanonicalJson.Write(buffer, document.RootElement);
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    [Theory]
    [InlineData("""{ "b": 1, "a": [ true, false, null ] }""", """{"a":[true,false,null],"b":1}""")]
    [InlineData("""{"amount":1.50,"n":100,"e":1E+2,"f":1.0e-2,"z":-0.000}""", """{"amount":1.5,"e":100,"f":0.01,"n":100,"z":0}""")]
    [InlineData("""{"s":"quote \" backslash \\ tab \t nl \n ctl \u0001 del \u007f é 𝄞"}""", "{\"s\":\"quote \\\" backslash \\\\ tab \\t nl \\n ctl \\u0001 del \u007f é 𝄞\"}")]
    [InlineData("""{"\uffff":1,"𝄞":2,"z":3}""", "{\"z\":3,\"\uffff\":1,\"𝄞\":2}")] // code point order: U+FFFF before U+1D11E
    [InlineData("""{"slash":"a/b","escaped":"\u00e9"}""", """{"escaped":"é","slash":"a/b"}""")]
    [InlineData("-12345678901234567890.1234567890", "-12345678901234567890.123456789")]
    public void Canonical_form_follows_the_documented_rules(string json, string expected) => Canonical(json).ShouldBe(expected);

    [Fact]
    public void The_same_value_in_any_spelling_hashes_the_same()
    {
        var link = new AuditChain.Link("customer/acme", 2, "wallet_topped_up", "ops", "trace", "2026-11-30T10:00:00.000000Z");
        using var a = JsonDocument.Parse("""{"amount":{"amount":100.00,"currency":"INR"},"id":"tu-1"}""");
        using var b = JsonDocument.Parse("""{ "id" : "tu-1", "amount" : { "currency" : "INR", "amount" : 1e2 } }""");
        using var c = JsonDocument.Parse("""{"amount":{"amount":100.01,"currency":"INR"},"id":"tu-1"}""");
        AuditChain.Hash(AuditChain.Genesis, link, a.RootElement).ShouldBe(AuditChain.Hash(AuditChain.Genesis, link, b.RootElement));
        AuditChain.Hash(AuditChain.Genesis, link, a.RootElement).ShouldNotBe(AuditChain.Hash(AuditChain.Genesis, link, c.RootElement));
        AuditChain.Hash(AuditChain.Genesis, link with { Version = 3 }, a.RootElement).ShouldNotBe(AuditChain.Hash(AuditChain.Genesis, link, a.RootElement));
        AuditChain.Hash(new string('1', 64), link, a.RootElement).ShouldNotBe(AuditChain.Hash(AuditChain.Genesis, link, a.RootElement));
    }
}
