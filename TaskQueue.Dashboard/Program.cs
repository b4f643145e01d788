using TaskQueue.Dashboard.Extensions;

// The operator dashboard: server-rendered pages over the brokers' gRPC API, called with the signed-in operator's own key.
var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddOperatorDashboard();

var app = builder.Build();
app.MapOperatorDashboard();
app.Run();
