using System.Xml.Linq;

namespace TaskQueue.Tests.Packaging;

/// <summary>What the packages declare: their dependencies, license, README, docs — read from the packed files.</summary>
[Collection(PackagingCollection.Name)]
public sealed class PackageContentsTests(PackedFeed feed)
{
    [Fact]
    public void The_client_package_depends_on_neither_ASP_NET_Core_nor_System_CommandLine()
    {
        var nuspec = feed.Nuspec("TaskQueue.Client");
        var frameworks = Elements(nuspec, "frameworkReference").Select(e => (string?)e.Attribute("name")).ToList();
        var dependencies = Elements(nuspec, "dependency").Select(e => (string?)e.Attribute("id")).ToList();

        Assert.DoesNotContain("Microsoft.AspNetCore.App", frameworks);
        Assert.DoesNotContain("System.CommandLine", dependencies);
        Assert.Contains(dependencies, id => id is "Grpc.Net.Client" or "Grpc.Net.ClientFactory");
    }

    [Fact]
    public void Every_package_has_the_MIT_license_a_readme_and_xml_docs_for_its_assembly()
    {
        foreach (var id in PackedFeed.PackageIds)
        {
            var metadata = feed.Nuspec(id).Root!.Elements().Single(e => e.Name.LocalName == "metadata");
            Assert.Equal("MIT", (string?)metadata.Elements().Single(e => e.Name.LocalName == "license"));
            Assert.Equal(feed.Version, (string?)metadata.Elements().Single(e => e.Name.LocalName == "version"));
            Assert.Equal("README.md", (string?)metadata.Elements().Single(e => e.Name.LocalName == "readme"));
            var files = feed.Files(id);
            Assert.Contains("README.md", files);
            if (id != "TaskQueue.Cli") // a tool's assembly is not referenced, so it ships no docs
            {
                Assert.Contains($"lib/net10.0/{id}.xml", files);
            }
        }
    }

    [Fact]
    public void The_hosting_package_carries_the_broker_and_the_targets_that_copy_it_and_depends_on_no_TaskQueue_project()
    {
        var files = feed.Files("TaskQueue.Hosting");
        Assert.Contains("lib/net10.0/TaskQueue.Hosting.dll", files);
        Assert.Contains("buildTransitive/TaskQueue.Hosting.targets", files);
        Assert.Contains("tools/broker/TaskQueue.Broker.dll", files);
        Assert.Contains("tools/broker/TaskQueue.Broker.runtimeconfig.json", files);
        Assert.Contains("tools/broker/appsettings.json", files);

        var dependencies = Elements(feed.Nuspec("TaskQueue.Hosting"), "dependency").Select(e => (string)e.Attribute("id")!).ToList();
        Assert.Contains("Aspire.Hosting", dependencies);
        Assert.DoesNotContain(dependencies, id => id.StartsWith("TaskQueue.", StringComparison.Ordinal));
    }

    private static IEnumerable<XElement> Elements(XDocument nuspec, string localName) =>
        nuspec.Descendants().Where(e => e.Name.LocalName == localName);
}
