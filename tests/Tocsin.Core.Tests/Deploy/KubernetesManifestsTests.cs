using System.Text.Json;
using k8s;
using k8s.Models;
using Tocsin.Checks;
using Tocsin.Checks.RocketChat;
using Tocsin.Checks.RocketChatApps;
using Tocsin.Configuration;
using Tocsin.Discovery;
using YamlDotNet.RepresentationModel;

namespace Tocsin.Core.Tests.Deploy;

/// <summary>
/// <c>deploy/kubernetes/</c>: every manifest parses as a Kubernetes object (KubernetesClient's YAML loader), the
/// kustomization lists them all, RBAC is the least discovery needs, the Deployment is wired to its ServiceAccount, probes,
/// volumes and Secret, and the ConfigMap's <c>tocsin.json</c> loads with Tocsin's configuration loader.
/// </summary>
public sealed class KubernetesManifestsTests
{
    private static readonly string Folder = FindFolder();

    private static string FindFolder()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Tocsin.slnx")))
        {
            dir = dir.Parent;
        }

        Assert.NotNull(dir);
        return Path.Combine(dir.FullName, "deploy", "kubernetes");
    }

    private static List<object> Load(string file) => KubernetesYaml.LoadAllFromString(File.ReadAllText(Path.Combine(Folder, file)));

    private static T One<T>(string file) => Assert.IsType<T>(Assert.Single(Load(file)));

    private static IReadOnlyList<string> KustomizationResources(out string? ns)
    {
        var yaml = new YamlStream();
        using (var reader = new StringReader(File.ReadAllText(Path.Combine(Folder, "kustomization.yaml"))))
        {
            yaml.Load(reader);
        }

        var root = (YamlMappingNode)yaml.Documents[0].RootNode;
        Assert.Equal("Kustomization", root["kind"].ToString());
        ns = root.Children.TryGetValue(new YamlScalarNode("namespace"), out var n) ? n.ToString() : null;
        return [.. ((YamlSequenceNode)root["resources"]).Children.Select(c => c.ToString())];
    }

    [Fact]
    public void The_kustomization_lists_every_manifest_of_the_folder_and_each_parses_as_one_kubernetes_object()
    {
        var resources = KustomizationResources(out string? ns);
        Assert.Equal("rocketchat", ns);
        var files = Directory.GetFiles(Folder, "*.yaml").Select(Path.GetFileName).Where(f => f != "kustomization.yaml").Order(StringComparer.Ordinal);
        Assert.Equal(files, resources.Order(StringComparer.Ordinal));
        var kinds = resources.Select(r => Assert.IsAssignableFrom<IKubernetesObject>(Assert.Single(Load(r))).Kind).Order(StringComparer.Ordinal);
        Assert.Equal(["ConfigMap", "Deployment", "Role", "RoleBinding", "Secret", "Service", "ServiceAccount"], kinds);
    }

    [Fact]
    public void Rbac_is_a_namespaced_role_allowing_exactly_get_and_list_on_pods_bound_to_the_service_account()
    {
        var role = One<V1Role>("role.yaml");
        var rule = Assert.Single(role.Rules);
        Assert.Equal([""], rule.ApiGroups);
        Assert.Equal(["pods"], rule.Resources);
        Assert.Equal(["get", "list"], rule.Verbs.Order(StringComparer.Ordinal));
        Assert.Null(rule.ResourceNames);
        Assert.Null(rule.NonResourceURLs);
        Assert.DoesNotContain(Load("role.yaml").Concat(Load("rolebinding.yaml")), o => o is V1ClusterRole or V1ClusterRoleBinding);
        Assert.DoesNotContain("*", File.ReadAllText(Path.Combine(Folder, "role.yaml")), StringComparison.Ordinal);

        var binding = One<V1RoleBinding>("rolebinding.yaml");
        Assert.Equal(("Role", role.Metadata.Name, "rbac.authorization.k8s.io"), (binding.RoleRef.Kind, binding.RoleRef.Name, binding.RoleRef.ApiGroup));
        var subject = Assert.Single(binding.Subjects);
        var account = One<V1ServiceAccount>("serviceaccount.yaml");
        Assert.Equal(("ServiceAccount", account.Metadata.Name), (subject.Kind, subject.Name));
        Assert.Null(subject.NamespaceProperty); // kustomize's namespace applies, so the binding follows the deployment
    }

    [Fact]
    public void The_deployment_runs_start_as_the_service_account_non_root_on_a_read_only_root_with_probes_on_healthz_and_readyz()
    {
        var deployment = One<V1Deployment>("deployment.yaml");
        Assert.Equal(1, deployment.Spec.Replicas);
        Assert.Equal("Recreate", deployment.Spec.Strategy.Type);
        var pod = deployment.Spec.Template.Spec;
        Assert.Equal(One<V1ServiceAccount>("serviceaccount.yaml").Metadata.Name, pod.ServiceAccountName);
        Assert.NotEqual(false, pod.AutomountServiceAccountToken);
        Assert.True(pod.SecurityContext.RunAsNonRoot);
        Assert.NotEqual(0, pod.SecurityContext.RunAsUser);
        Assert.Equal(deployment.Spec.Selector.MatchLabels, deployment.Spec.Template.Metadata.Labels);

        var container = Assert.Single(pod.Containers);
        Assert.Equal("start", container.Args[0]);
        Assert.False(string.IsNullOrEmpty(container.Image));
        Assert.True(container.SecurityContext.ReadOnlyRootFilesystem);
        Assert.False(container.SecurityContext.AllowPrivilegeEscalation);
        Assert.Equal(["ALL"], container.SecurityContext.Capabilities.Drop);
        Assert.NotNull(container.Resources.Requests["memory"]);
        Assert.NotNull(container.Resources.Limits["memory"]);
        var port = Assert.Single(container.Ports);
        Assert.Equal("/healthz", container.LivenessProbe.HttpGet.Path);
        Assert.Equal("/readyz", container.ReadinessProbe.HttpGet.Path);
        Assert.Equal(port.Name, container.LivenessProbe.HttpGet.Port.Value);
        Assert.Equal(port.Name, container.ReadinessProbe.HttpGet.Port.Value);

        // The web server listens on that port, on every address of the pod.
        var config = TocsinJson();
        Assert.Equal($"http://0.0.0.0:{port.ContainerPort}", config.GetProperty("web").GetProperty("urls").GetString());
        var service = One<V1Service>("service.yaml");
        Assert.Equal(port.Name, Assert.Single(service.Spec.Ports).TargetPort.Value);
        Assert.Equal(deployment.Spec.Template.Metadata.Labels, service.Spec.Selector);

        // The configuration file is where TOCSIN_CONFIG says, from the ConfigMap.
        string configPath = Assert.Single(container.Env, e => e.Name == "TOCSIN_CONFIG").Value;
        var configMount = Mount(deployment, Path.GetDirectoryName(configPath)!);
        var configVolume = Assert.Single(pod.Volumes, v => v.Name == configMount.Name);
        Assert.Equal(One<V1ConfigMap>("configmap.yaml").Metadata.Name, configVolume.ConfigMap.Name);
        Assert.True(configMount.ReadOnlyProperty);
        Assert.Contains(Path.GetFileName(configPath), One<V1ConfigMap>("configmap.yaml").Data.Keys);

        // The outbox is on a writable volume (the root file system is read-only), and so is /tmp.
        string outbox = config.GetProperty("localDatabasePath").GetString()!;
        var dataMount = Mount(deployment, Path.GetDirectoryName(outbox)!);
        Assert.NotEqual(true, dataMount.ReadOnlyProperty);
        Assert.NotNull(Assert.Single(pod.Volumes, v => v.Name == dataMount.Name).EmptyDir);
        Assert.NotNull(Assert.Single(pod.Volumes, v => v.Name == Mount(deployment, "/tmp").Name).EmptyDir);
    }

    [Fact]
    public void The_pat_file_of_the_check_is_the_mounted_secret_key()
    {
        var deployment = One<V1Deployment>("deployment.yaml");
        var secret = One<V1Secret>("secret.yaml");
        string patFile = RocketChatCheck().GetProperty("patFile").GetString()!;
        var mount = Mount(deployment, Path.GetDirectoryName(patFile)!);
        Assert.True(mount.ReadOnlyProperty);
        var volume = Assert.Single(deployment.Spec.Template.Spec.Volumes, v => v.Name == mount.Name);
        Assert.Equal(secret.Metadata.Name, volume.Secret.SecretName);
        Assert.Contains(Path.GetFileName(patFile), secret.StringData.Keys);
        Assert.False(RocketChatCheck().TryGetProperty("pat", out _));
    }

    [Fact]
    public void The_configmaps_tocsin_json_loads_with_kubernetes_discovery_and_the_pat_from_the_secret()
    {
        using var folder = new TempFolder();
        var secret = One<V1Secret>("secret.yaml");
        string patFile = RocketChatCheck().GetProperty("patFile").GetString()!;
        string pat = secret.StringData[Path.GetFileName(patFile)];
        File.WriteAllText(folder.File("rocketchat-pat"), pat + "\n");
        string json = One<V1ConfigMap>("configmap.yaml").Data["tocsin.json"].Replace(patFile, folder.File("rocketchat-pat"), StringComparison.Ordinal);
        var loader = new ConfigLoader(CheckKinds.CreateDefault(TimeProvider.System));

        // The discovery object is valid for KubernetesPodDiscovery (and names nothing else).
        using (var doc = JsonDocument.Parse(RocketChatCheck().GetProperty("discovery").GetRawText()))
        {
            var errors = new List<ConfigError>();
            var reader = new ConfigObjectReader(doc.RootElement, folder.File("tocsin.json"), "checks[0]", errors, "discovery.");
            Assert.Equal("kubernetes", reader.String("type"));
            Assert.NotNull(KubernetesDiscoveryOptions.Read(reader));
            reader.RejectUnknownFields();
            Assert.Empty(errors);
        }

        // Everything loads, with the Kubernetes discovery of the manifest.
        var config = loader.Parse(json, folder.File("tocsin.json"));
        Assert.Equal("/var/lib/tocsin/local.db", config.LocalDatabasePath);
        var apps = Assert.IsType<RocketChatAppsOptions>(Assert.Single(config.Checks, c => c.Kind == RocketChatAppsCheckKind.KindName).Options);
        Assert.Equal(pat, apps.Pat);
        Assert.Equal(DiscoveryType.Kubernetes, apps.Discovery.Type);
        Assert.NotNull(apps.Discovery.Kubernetes);
        Assert.True(config.WebAuth.IsConfigured);
    }

    private static JsonElement TocsinJson()
    {
        using var doc = JsonDocument.Parse(One<V1ConfigMap>("configmap.yaml").Data["tocsin.json"], new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip });
        return doc.RootElement.Clone();
    }

    private static JsonElement RocketChatCheck() =>
        Assert.Single(TocsinJson().GetProperty("checks").EnumerateArray(), c => c.GetProperty("kind").GetString() == "rocketchat-apps");

    private static V1VolumeMount Mount(V1Deployment deployment, string path) =>
        Assert.Single(Assert.Single(deployment.Spec.Template.Spec.Containers).VolumeMounts, m => m.MountPath == path);
}
