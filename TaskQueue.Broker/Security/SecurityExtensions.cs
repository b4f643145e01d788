using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.IdentityModel.Tokens;
using TaskQueue.Broker.Extensions;
using TaskQueue.Broker.Security.Tls;
using TaskQueue.Protocol;

namespace TaskQueue.Broker.Security;

/// <summary>
/// The broker's authentication: one policy scheme that picks a handler per request by what the caller sent — a
/// bearer token shaped like a JWT to JwtBearer (when JWT is configured), any other bearer token to the API-key
/// handler, no Authorization header but a client certificate to "Certificate" (when that handler is registered),
/// nothing to the anonymous handler (which admits no one unless AllowAnonymous). Authorisation is the gRPC edge's
/// (<see cref="AuthorizationInterceptor"/>) and the HTTP endpoints' (<see cref="HttpAccess"/>).
/// </summary>
internal static class SecurityExtensions
{
    public const string PolicyScheme = "TaskQueue";

    /// <summary>The scheme name the client-certificate handler registers under; routed to only when it exists.</summary>
    public const string CertificateScheme = "Certificate";

    /// <summary>JWTs are checked with this much clock skew (the library default of 5 minutes is generous for expiry).</summary>
    private static readonly TimeSpan s_clockSkew = TimeSpan.FromSeconds(30);

    public static WebApplicationBuilder AddTaskQueueSecurity(this WebApplicationBuilder builder)
    {
        var configuration = builder.Configuration;
        if (configuration[$"{SecurityOptions.SectionName}:{nameof(SecurityOptions.KeysFile)}"] is { Length: > 0 } keysFile)
        {
            // Later sources win: the file's keys join (and may replace) those in other configuration.
            configuration.AddJsonFile(Path.GetFullPath(keysFile), optional: false, reloadOnChange: true);
        }

        var services = builder.Services;
        services.AddValidatedOptions<SecurityOptions>(SecurityOptions.SectionName, options =>
            options.Validate(hasClientCertificates: configuration.GetSection(SecurityOptions.ClientCertificatesKey).GetChildren().Any()));
        services.AddSingleton<ApiKeyTable>();
        services.AddSingleton<WorkerAccess>();
        services.AddHostedService<SecurityStartup>();

        var jwt = configuration.GetSection(SecurityOptions.SectionName).Get<SecurityOptions>()?.Jwt ?? new JwtOptions();
        var authentication = services.AddAuthentication(PolicyScheme)
            .AddPolicyScheme(PolicyScheme, "TaskQueue credentials", policy => policy.ForwardDefaultSelector = context => SelectScheme(context, jwt.IsConfigured))
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null)
            .AddScheme<AuthenticationSchemeOptions, AnonymousAuthenticationHandler>(AnonymousAuthenticationHandler.SchemeName, null);
        authentication.AddTaskQueueClientCertificates();
        if (jwt.IsConfigured)
        {
            authentication.AddJwtBearer(JwtBearerDefaults.AuthenticationScheme, bearer => ConfigureJwt(bearer, jwt));
        }

        return builder;
    }

    private static string SelectScheme(HttpContext context, bool jwtConfigured)
    {
        var request = context.Request;
        if (BearerToken.IsPresent(request))
        {
            return jwtConfigured && BearerToken.Read(request) is { } token && ApiKeys.LooksLikeJwt(token)
                ? JwtBearerDefaults.AuthenticationScheme
                : ApiKeyAuthenticationHandler.SchemeName;
        }

        if (context.Connection.ClientCertificate is not null
            && context.RequestServices.GetRequiredService<IAuthenticationSchemeProvider>().GetSchemeAsync(CertificateScheme).GetAwaiter().GetResult() is not null)
        {
            return CertificateScheme;
        }

        return AnonymousAuthenticationHandler.SchemeName;
    }

    private static void ConfigureJwt(JwtBearerOptions bearer, JwtOptions jwt)
    {
        // Claims keep their JWT names ("sub", "scope", "scp"): the principal is rebuilt in the contract's shape below.
        bearer.MapInboundClaims = false;
        bearer.TokenValidationParameters = new TokenValidationParameters
        {
            ValidateIssuer = true,
            ValidateAudience = true,
            ValidAudience = jwt.Audience,
            ValidateLifetime = true,
            RequireExpirationTime = true,
            ClockSkew = s_clockSkew,
        };
        if (!string.IsNullOrEmpty(jwt.Authority))
        {
            bearer.Authority = jwt.Authority;
            if (!string.IsNullOrEmpty(jwt.Issuer))
            {
                bearer.TokenValidationParameters.ValidIssuer = jwt.Issuer;
            }
        }
        else
        {
            bearer.TokenValidationParameters.ValidIssuer = jwt.Issuer;
            bearer.TokenValidationParameters.IssuerSigningKey = new SymmetricSecurityKey(jwt.SigningKeyBytes());
            bearer.TokenValidationParameters.ValidAlgorithms = [SecurityAlgorithms.HmacSha256];
        }

        bearer.Events = new JwtBearerEvents
        {
            OnTokenValidated = context =>
            {
                var token = context.Principal!;
                if (token.FindFirst("sub")?.Value is not { Length: > 0 } subject)
                {
                    context.Fail("The token has no subject.");
                    return Task.CompletedTask;
                }

                var scopes = token.FindAll("scope").Concat(token.FindAll("scp")).Select(claim => claim.Value);
                var extra = token.FindFirst(CallerIdentity.ExpiresClaim) is { } exp ? new[] { new Claim(CallerIdentity.ExpiresClaim, exp.Value) } : [];
                context.Principal = CallerIdentity.Create("jwt:" + subject, scopes, JwtBearerDefaults.AuthenticationScheme, extra);
                return Task.CompletedTask;
            },
        };
    }
}

/// <summary>Says at start how the broker admits callers; warns when it admits anyone.</summary>
internal sealed class SecurityStartup(Microsoft.Extensions.Options.IOptions<SecurityOptions> options, ApiKeyTable keys, ILogger<SecurityStartup> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        var security = options.Value;
        if (security.AllowAnonymous)
        {
            SecurityLog.AnonymousAllowed(logger);
        }

        SecurityLog.CredentialsConfigured(logger, keys.Count, security.Jwt.IsConfigured, security.MetricsAccess);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
