using Tocsin.Access;

namespace Tocsin.Core.Tests.Access;

public sealed class PasswordHashTests
{
    [Fact]
    public void Create_gives_the_self_describing_format_and_verifies_only_the_same_password()
    {
        string text = PasswordHash.Create("correct horse");

        string[] parts = text.Split('$');
        Assert.Equal(4, parts.Length);
        Assert.Equal("pbkdf2-sha256", parts[0]);
        Assert.Equal("600000", parts[1]);
        Assert.Equal(16, Convert.FromBase64String(parts[2]).Length);
        Assert.Equal(32, Convert.FromBase64String(parts[3]).Length);
        var hash = PasswordHash.TryParse(text, out string? problem);
        Assert.Null(problem);
        Assert.True(hash!.Verify("correct horse"));
        Assert.False(hash.Verify("correct horse "));
        Assert.False(hash.Verify(""));
    }

    [Fact]
    public void Two_hashes_of_one_password_differ_by_their_random_salt() =>
        Assert.NotEqual(PasswordHash.Create("same"), PasswordHash.Create("same"));

    [Theory]
    [InlineData("$2b$12$abcdefghijklmnopqrstuv", "unknown hash format")]
    [InlineData("pbkdf2-sha1$600000$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "unknown hash format")]
    [InlineData("pbkdf2-sha256$1000$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "iterations must be an integer from 600000")]
    [InlineData("pbkdf2-sha256$600000$not base64!$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "base64")]
    [InlineData("pbkdf2-sha256$600000$AAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "salt must be at least 16 bytes")]
    [InlineData("plain-text-password", "unknown hash format")]
    public void TryParse_refuses_other_formats_with_a_reason_that_does_not_repeat_the_hash(string text, string reason)
    {
        Assert.Null(PasswordHash.TryParse(text, out string? problem));
        Assert.Contains(reason, problem, StringComparison.Ordinal);
        Assert.DoesNotContain(text, problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Token_sha256_is_64_lowercase_hex_of_the_utf8_token()
    {
        string token = AccessTokens.Create();
        Assert.Equal(43, token.Length);
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(token))), AccessTokens.Sha256Hex(token));
        Assert.NotEqual(token, AccessTokens.Create());
    }
}
