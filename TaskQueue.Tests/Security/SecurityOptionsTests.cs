using System.ComponentModel.DataAnnotations;
using TaskQueue.Broker.Security;
using TaskQueue.Protocol;

namespace TaskQueue.Tests.Security;

public sealed class SecurityOptionsTests
{
    private static readonly string s_hash = ApiKeys.Hash("tqk_test");

    [Fact]
    public void Without_any_credential_the_options_are_refused_and_the_message_names_AllowAnonymous()
    {
        var error = Assert.Throws<ValidationException>(() => new SecurityOptions().Validate(hasClientCertificates: false));

        Assert.Contains("AllowAnonymous", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AllowAnonymous_API_keys_JWT_or_client_certificates_each_count_as_configured()
    {
        new SecurityOptions { AllowAnonymous = true }.Validate(hasClientCertificates: false);
        WithKey("workers", s_hash, "consume:*").Validate(hasClientCertificates: false);
        new SecurityOptions { Jwt = Jwt() }.Validate(hasClientCertificates: false);
        new SecurityOptions().Validate(hasClientCertificates: true);
    }

    [Theory]
    [InlineData("has space", "consume:*")]
    [InlineData("dots.not.allowed", "consume:*")]
    [InlineData("workers", "write:*")]
    [InlineData("workers", "")]
    public void A_key_with_a_bad_name_or_scope_is_refused(string name, string scope) =>
        Assert.ThrowsAny<Exception>(() => WithKey(name, s_hash, scope).Validate(hasClientCertificates: false));

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("abc")]
    [InlineData("tqk_the_key_itself_not_its_hash_zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz")]
    public void A_key_whose_Sha256_is_not_64_hex_digits_is_refused(string? hash)
    {
        var error = Assert.Throws<ValidationException>(() => WithKey("workers", hash, "consume:*").Validate(hasClientCertificates: false));

        Assert.Contains("TaskQueue:Security:ApiKeys:workers:Sha256", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Two_names_with_the_same_key_are_refused()
    {
        var options = WithKey("a", s_hash, "consume:*");
        options.ApiKeys["b"] = new ApiKeyOptions { Sha256 = s_hash.ToUpperInvariant(), Scopes = ["admin:*"] };

        var error = Assert.Throws<ValidationException>(() => options.Validate(hasClientCertificates: false));

        Assert.Contains("a and b", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void JWT_settings_need_an_audience_an_issuer_with_a_signing_key_and_a_key_of_256_bits()
    {
        Assert.Throws<ValidationException>(() => new SecurityOptions { Jwt = Jwt(audience: null) }.Validate(false));
        Assert.Throws<ValidationException>(() => new SecurityOptions { Jwt = Jwt(issuer: null) }.Validate(false));
        Assert.Throws<ValidationException>(() => new SecurityOptions { Jwt = Jwt(key: Convert.ToBase64String(new byte[16])) }.Validate(false));
        Assert.Throws<ValidationException>(() => new SecurityOptions { Jwt = Jwt(key: "not base64!") }.Validate(false));
        Assert.Throws<ValidationException>(() => new SecurityOptions { Jwt = new JwtOptions { Audience = "taskqueue" } }.Validate(false));
        var both = Jwt();
        both.Authority = "https://issuer.test";
        Assert.Throws<ValidationException>(() => new SecurityOptions { Jwt = both }.Validate(false));
    }

    private static SecurityOptions WithKey(string name, string? hash, string scope) => new()
    {
        ApiKeys = { [name] = new ApiKeyOptions { Sha256 = hash, Scopes = [scope] } },
    };

    private static JwtOptions Jwt(string? audience = "taskqueue", string? issuer = "https://issuer.test", string? key = null) => new()
    {
        SigningKey = key ?? Convert.ToBase64String(new byte[32]),
        Issuer = issuer,
        Audience = audience,
    };
}
