using ImageShop.Contracts;
using TaskQueue.Worker.Handlers;

namespace ImageShop.Worker;

/// <summary>Resizes one image. (A real one would fetch, resize and upload; this one names the thumbnail.)</summary>
public sealed class ResizeImageHandler : ITaskHandler<ResizeImage, ResizedImage>
{
    public string TaskType => ResizeImage.TaskType;

    public async Task<ResizedImage> HandleAsync(ResizeImage payload, TaskContext context, CancellationToken cancellationToken)
    {
        await Task.Delay(TimeSpan.FromMilliseconds(50), cancellationToken);
        var thumbnail = $"{payload.ImageUrl}?w={payload.Width}&h={payload.Height}";
        return new ResizedImage(thumbnail, payload.Width, payload.Height, Environment.MachineName);
    }
}
