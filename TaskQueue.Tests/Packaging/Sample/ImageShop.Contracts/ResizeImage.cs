namespace ImageShop.Contracts;

/// <summary>The "resize-image" task: make a thumbnail of an uploaded image.</summary>
public sealed record ResizeImage(string ImageUrl, int Width, int Height)
{
    public const string TaskType = "resize-image";
}

/// <summary>What the resizer made.</summary>
public sealed record ResizedImage(string ThumbnailUrl, int Width, int Height, string ResizedBy);
