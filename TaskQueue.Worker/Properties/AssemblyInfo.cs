using System.Runtime.CompilerServices;

[assembly: InternalsVisibleTo("TaskQueue.Tests")]
