using System.ComponentModel.DataAnnotations;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.Options;
using TaskQueue.Client;
using TaskQueue.Dashboard.Brokers;
using TaskQueue.Dashboard.Signing;

namespace TaskQueue.Dashboard.Extensions;

/// <summary>The dashboard's services and its request pipeline.</summary>
internal static class DashboardExtensions
{
    public static WebApplicationBuilder AddOperatorDashboard(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddSingleton<IValidateOptions<DashboardOptions>, DashboardOptionsRules>();
        services.AddOptions<DashboardOptions>().BindConfiguration(DashboardOptions.SectionName).ValidateOnStart();

        // The brokers' addresses as every TaskQueue client reads them (TaskQueue:BrokerAddress(es), ConnectionStrings:taskqueue);
        // the dashboard's own channel carries no key: each call carries the signed-in operator's.
        builder.AddTaskQueueClient();
        services.AddSingleton<BrokerChannel>();
        services.AddHttpClient<WorkersReader>();
        services.AddHttpContextAccessor();
        services.AddScoped<OperatorSession>();
        services.AddSingleton<OverviewReader>();
        services.AddSingleton<TaskSearch>();

        var dataProtection = services.AddDataProtection().SetApplicationName("TaskQueue.Dashboard");
        if (builder.Configuration[$"{DashboardOptions.SectionName}:{nameof(DashboardOptions.KeysDirectory)}"] is { Length: > 0 } keys)
        {
            dataProtection.PersistKeysToFileSystem(new DirectoryInfo(keys));
        }

        services.AddAuthentication(OperatorClaims.Scheme).AddCookie(OperatorClaims.Scheme, _ => { });
        services.AddOptions<CookieAuthenticationOptions>(OperatorClaims.Scheme).Configure<IOptions<DashboardOptions>>((cookie, dashboard) =>
        {
            cookie.Cookie.Name = "tq-dashboard";
            cookie.Cookie.HttpOnly = true;
            cookie.Cookie.SameSite = SameSiteMode.Strict;
            cookie.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
            cookie.ExpireTimeSpan = dashboard.Value.SessionLifetime;
            cookie.SlidingExpiration = true;
            cookie.LoginPath = "/SignIn";
            cookie.AccessDeniedPath = "/SignIn";
        });
        services.AddAuthorization();
        services.AddAntiforgery(options =>
        {
            options.Cookie.Name = "tq-dashboard-af";
            options.Cookie.SameSite = SameSiteMode.Strict;
            options.Cookie.HttpOnly = true;
            options.HeaderName = "X-CSRF-TOKEN";
        });
        services.AddRazorPages(options =>
        {
            options.Conventions.AuthorizeFolder("/");
            options.Conventions.AllowAnonymousToPage("/SignIn");
        });
        return builder;
    }

    public static WebApplication MapOperatorDashboard(this WebApplication app)
    {
        app.Use(async (context, next) =>
        {
            // Nothing from elsewhere: no inline script, no framing (clickjacking), no sniffing a payload into HTML.
            var headers = context.Response.Headers;
            headers.ContentSecurityPolicy = "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'";
            headers.XContentTypeOptions = "nosniff";
            headers.XFrameOptions = "DENY";
            headers["Referrer-Policy"] = "no-referrer";
            await next(context);
        });
        app.UseStaticFiles();
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseMiddleware<BrokerErrors>();
        app.MapDefaultEndpoints();
        app.MapRazorPages();
        app.MapGet("/api/overview", (OperatorSession session, OverviewReader reader, CancellationToken cancellationToken) =>
            reader.ReadAsync(session, cancellationToken)).RequireAuthorization();
        return app;
    }

    private sealed class DashboardOptionsRules : IValidateOptions<DashboardOptions>
    {
        public ValidateOptionsResult Validate(string? name, DashboardOptions options)
        {
            try
            {
                options.Validate();
                return ValidateOptionsResult.Success;
            }
            catch (ValidationException ex)
            {
                return ValidateOptionsResult.Fail($"{nameof(DashboardOptions)}: {ex.Message}");
            }
        }
    }
}
