using Grpc.Core;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using TaskQueue.Dashboard.Brokers;
using TaskQueue.Dashboard.Diagnostics;
using TaskQueue.Dashboard.Signing;

namespace TaskQueue.Dashboard.Pages;

/// <summary>
/// Sign-in: the broker is asked who the credential belongs to (GetIdentity); a credential it refuses signs no one in.
/// The cookie then carries the identity, its scopes and the credential, encrypted.
/// </summary>
public sealed class SignInModel(BrokerChannel brokers, ILogger<SignInModel> logger) : PageModel
{
    public string? Error { get; private set; }

    public void OnGet()
    {
    }

    public async Task<IActionResult> OnPostAsync(string? credential, CancellationToken cancellationToken)
    {
        credential = credential?.Trim();
        if (string.IsNullOrEmpty(credential) || credential.Length > 8192)
        {
            Error = "Give an API key or a token.";
            return Page();
        }

        try
        {
            var caller = await brokers.ClientFor(credential).GetIdentityAsync(cancellationToken);
            await HttpContext.SignInAsync(OperatorClaims.Scheme, OperatorClaims.Create(caller.Identity, caller.Scopes, credential));
            Log.SignedIn(logger, caller.Identity);
            return LocalRedirect("/");
        }
        catch (RpcException ex) when (ex.StatusCode is Grpc.Core.StatusCode.Unauthenticated or Grpc.Core.StatusCode.PermissionDenied)
        {
            Log.SignInRefused(logger, ex.StatusCode.ToString());
            Error = "The broker does not accept this credential.";
            Response.StatusCode = StatusCodes.Status401Unauthorized;
            return Page();
        }
    }

    public async Task<IActionResult> OnPostSignOutAsync()
    {
        Log.SignedOut(logger, OperatorClaims.Identity(User));
        await HttpContext.SignOutAsync(OperatorClaims.Scheme);
        return LocalRedirect("/SignIn");
    }
}
