using System.Runtime.InteropServices;

namespace TaskQueue.Tests.Infrastructure;

/// <summary>POSIX signals to the processes the tests start: crash, stop, freeze and thaw them.</summary>
internal static class ProcessSignals
{
    public const int Kill = 9;
    public const int Terminate = 15;
    public const int Continue = 18;
    public const int Stop = 19;

    public static void Send(int pid, int signal) => _ = SendSignal(pid, signal);

    [DllImport("libc", EntryPoint = "kill")]
    private static extern int SendSignal(int pid, int signal);
}
