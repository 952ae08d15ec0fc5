using Ledger.Common;
using Ledger.Hosting;

namespace Ledger.Tests.Common;

/// <summary>The id and text rules every endpoint and the usage path share, one row per case.</summary>
public class ClientInputTests
{
    [Theory]
    [InlineData("tu-1", true)]
    [InlineData("A.b_c:d-9", true)]
    [InlineData("tu-1\n", false)]
    [InlineData("tu-1\r\n", false)]
    [InlineData("\ntu-1", false)]
    [InlineData("tu\u00001", false)]
    [InlineData("tu 1", false)]
    [InlineData("tu/1", false)]
    [InlineData("tü-1", false)]
    [InlineData("", false)]
    [InlineData(null, false)]
    public void Ids_are_matched_as_whole_strings(string? id, bool valid) => ClientIds.IsValid(id).ShouldBe(valid);

    [Fact]
    public void Ids_are_at_most_64_characters() =>
        (ClientIds.IsValid(new string('a', 64)), ClientIds.IsValid(new string('a', 65))).ShouldBe((true, false));

    [Theory]
    [InlineData("Acme Pvt Ltd", false)]
    [InlineData("दिल्ली · 東京 · émoji 🚀", false)]
    [InlineData("a\u0000b", true)]
    [InlineData("line\nbreak", true)]
    [InlineData("tab\t", true)]
    [InlineData("\u001b[31m", true)]
    [InlineData("del\u007f", true)]
    [InlineData("\u0080 is not C0", false)]
    public void Text_with_a_control_character_is_refused(string text, bool refused)
    {
        ClientText.HasControlCharacter(text).ShouldBe(refused);
        var errors = new FieldErrors();
        Check.Text(errors, "name", text, 200);
        errors.Any.ShouldBe(refused);
    }

    [Fact]
    public void An_unpaired_surrogate_is_not_text_but_a_pair_is()
    {
        // Built here rather than in InlineData, whose serialization would replace a lone surrogate.
        ClientText.HasControlCharacter("lone " + '\uD800' + " high").ShouldBeTrue();
        ClientText.HasControlCharacter("lone " + '\uDC00' + " low").ShouldBeTrue();
        ClientText.HasControlCharacter("ends high " + '\uD83D').ShouldBeTrue();
        ClientText.HasControlCharacter("pair \uD83D\uDE80 is one emoji").ShouldBeFalse();
    }

    [Theory]
    [InlineData("""{ "id": "a", "amount": "1", "amount": "2" }""", "amount")]
    [InlineData("""{ "id": "a", "amount": "1", "reason": "x\u0000" }""", "reason")]
    [InlineData("""{ "id": "a\n", "amount": "1" }""", "id")]
    public void The_body_parser_refuses_repeated_members_and_control_characters_with_the_field_path(string json, string field)
    {
        var read = JsonBody.Parse<Ledger.Wallets.MoneyCommandRequest>(System.Text.Encoding.UTF8.GetBytes(json));

        read.Value.ShouldBeNull();
        read.Problem.ShouldBeOfType<Microsoft.AspNetCore.Http.HttpResults.ProblemHttpResult>()
            .ProblemDetails.ShouldBeOfType<Microsoft.AspNetCore.Http.HttpValidationProblemDetails>().Errors.Keys.ShouldBe([field]);
    }
}
