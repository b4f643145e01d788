using System.Runtime.InteropServices;

namespace TaskQueue.Testing;

/// <summary>POSIX signals to the processes tests and benchmarks start: crash, stop, freeze and thaw them.</summary>
public static class ProcessSignals
{
    /// <summary>SIGKILL.</summary>
    public const int Kill = 9;

    /// <summary>SIGTERM.</summary>
    public const int Terminate = 15;

    /// <summary>SIGCONT.</summary>
    public const int Continue = 18;

    /// <summary>SIGSTOP.</summary>
    public const int Stop = 19;

    /// <summary>Sends <paramref name="signal"/> to <paramref name="pid"/>; a process that is gone is no error.</summary>
    public static void Send(int pid, int signal) => _ = SendSignal(pid, signal);

    [DllImport("libc", EntryPoint = "kill")]
    private static extern int SendSignal(int pid, int signal);
}
