using System.Net;
using Grpc.Core;
using Microsoft.AspNetCore.Authentication;
using TaskQueue.Dashboard.Diagnostics;
using TaskQueue.Dashboard.Signing;

namespace TaskQueue.Dashboard.Brokers;

/// <summary>
/// Turns a broker's refusal into the page's answer: PERMISSION_DENIED → 403, NOT_FOUND → 404, INVALID_ARGUMENT → 400,
/// UNAUTHENTICATED (a revoked or expired key) → signed out and sent to sign in again, anything else → 503.
/// </summary>
public sealed class BrokerErrors(RequestDelegate next, ILogger<BrokerErrors> logger)
{
    public async Task InvokeAsync(HttpContext context)
    {
        try
        {
            await next(context);
        }
        catch (RpcException ex) when (!context.Response.HasStarted)
        {
            if (ex.StatusCode == StatusCode.Unauthenticated)
            {
                await context.SignOutAsync(OperatorClaims.Scheme);
                context.Response.Redirect("/SignIn");
                return;
            }

            var status = ex.StatusCode switch
            {
                StatusCode.PermissionDenied => HttpStatusCode.Forbidden,
                StatusCode.NotFound => HttpStatusCode.NotFound,
                StatusCode.InvalidArgument or StatusCode.FailedPrecondition or StatusCode.OutOfRange => HttpStatusCode.BadRequest,
                _ => HttpStatusCode.ServiceUnavailable,
            };
            if (status == HttpStatusCode.ServiceUnavailable)
            {
                Log.BrokerCallFailed(logger, ex.StatusCode.ToString());
            }

            context.Response.Clear();
            context.Response.StatusCode = (int)status;
            context.Response.ContentType = "text/html; charset=utf-8";
            var detail = WebUtility.HtmlEncode(ex.Status.Detail);
            await context.Response.WriteAsync(
                $"<!doctype html><html><head><title>{(int)status}</title><link rel=\"stylesheet\" href=\"/site.css\"></head><body><main>"
                + $"<h1 data-error=\"{ex.StatusCode}\">The broker said no: {ex.StatusCode}</h1><p>{detail}</p><p><a href=\"/\">Overview</a></p></main></body></html>",
                context.RequestAborted);
        }
    }
}
