using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace TaskQueue.Testing;

/// <summary>
/// The least Redis client the benchmarks and tests need (PING, INFO, pipelined HMGET, SCAN, FLUSHALL):
/// RESP2 over one socket, one caller at a time. Neither the client library nor the system benchmark
/// needs a Redis driver for that.
/// </summary>
public sealed class RespConnection : IAsyncDisposable
{
    private readonly TcpClient _tcp;
    private readonly BufferedStream _stream;

    private RespConnection(TcpClient tcp)
    {
        _tcp = tcp;
        _stream = new BufferedStream(tcp.GetStream(), 64 * 1024);
    }

    /// <summary>Connects to <paramref name="endpoint"/> (host:port; port 6379 when left out).</summary>
    public static async Task<RespConnection> ConnectAsync(string endpoint, CancellationToken cancellationToken)
    {
        var colon = endpoint.LastIndexOf(':');
        var host = colon > 0 ? endpoint[..colon] : endpoint;
        var port = colon > 0 ? int.Parse(endpoint[(colon + 1)..], CultureInfo.InvariantCulture) : 6379;
        var tcp = new TcpClient { NoDelay = true };
        try
        {
            await tcp.ConnectAsync(host, port, cancellationToken);
            return new RespConnection(tcp);
        }
        catch
        {
            tcp.Dispose();
            throw;
        }
    }

    /// <summary>One command, one reply (see <see cref="PipelineAsync"/> for the reply's shape).</summary>
    public async Task<object?> CallAsync(CancellationToken cancellationToken, params string[] args) =>
        (await PipelineAsync([args], cancellationToken))[0];

    /// <summary>
    /// Sends every command, then reads every reply: one round trip for the lot. A reply is a string (simple
    /// or bulk), a long, null, or an object?[] for arrays; an error reply throws <see cref="InvalidOperationException"/>.
    /// </summary>
    public async Task<object?[]> PipelineAsync(IReadOnlyList<string[]> commands, CancellationToken cancellationToken)
    {
        var buffer = new StringBuilder();
        foreach (var args in commands)
        {
            buffer.Append('*').Append(args.Length).Append("\r\n");
            foreach (var arg in args)
            {
                buffer.Append('$').Append(Encoding.UTF8.GetByteCount(arg)).Append("\r\n").Append(arg).Append("\r\n");
            }
        }

        await _stream.WriteAsync(Encoding.UTF8.GetBytes(buffer.ToString()), cancellationToken);
        await _stream.FlushAsync(cancellationToken);
        var replies = new object?[commands.Count];
        for (var i = 0; i < replies.Length; i++)
        {
            replies[i] = await ReadAsync(cancellationToken);
        }

        return replies;
    }

    /// <summary>The text of INFO everything.</summary>
    public async Task<string> InfoAsync(CancellationToken cancellationToken) =>
        await CallAsync(cancellationToken, "INFO", "everything") as string ?? "";

    /// <summary>Closes the socket.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stream.DisposeAsync();
        _tcp.Dispose();
    }

    /// <summary>A reply: string (simple or bulk), long, null, or object?[] for arrays; an error reply throws.</summary>
    private async Task<object?> ReadAsync(CancellationToken cancellationToken)
    {
        var line = await ReadLineAsync(cancellationToken);
        var rest = line[1..];
        switch (line[0])
        {
            case '+':
                return rest;
            case '-':
                throw new InvalidOperationException("Redis: " + rest);
            case ':':
                return long.Parse(rest, CultureInfo.InvariantCulture);
            case '$':
                var length = int.Parse(rest, CultureInfo.InvariantCulture);
                if (length < 0)
                {
                    return null;
                }

                var bytes = new byte[length + 2];
                await _stream.ReadExactlyAsync(bytes, cancellationToken);
                return Encoding.UTF8.GetString(bytes, 0, length);
            case '*':
                var count = int.Parse(rest, CultureInfo.InvariantCulture);
                if (count < 0)
                {
                    return null;
                }

                var items = new object?[count];
                for (var i = 0; i < count; i++)
                {
                    items[i] = await ReadAsync(cancellationToken);
                }

                return items;
            default:
                throw new InvalidOperationException($"Unexpected RESP reply '{line}'.");
        }
    }

    private async Task<string> ReadLineAsync(CancellationToken cancellationToken)
    {
        var line = new StringBuilder();
        var one = new byte[1];
        while (true)
        {
            await _stream.ReadExactlyAsync(one, cancellationToken);
            if (one[0] == '\n' && line.Length > 0 && line[^1] == '\r')
            {
                return line.ToString(0, line.Length - 1);
            }

            line.Append((char)one[0]);
        }
    }
}
