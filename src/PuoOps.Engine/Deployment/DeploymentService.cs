using System.Diagnostics;
using System.Globalization;
using Docker.DotNet.Models;
using PuoOps.Engine.Docker;

namespace PuoOps.Engine.Deployment;

/// <summary>Publish-PuoDeployment's parameters.</summary>
public sealed class PublishOptions
{
    public required string Color { get; init; }

    /// <summary>The image to run; with it the colour's Swarm service is created or updated.</summary>
    public string? Image { get; init; }

    /// <summary>A compose file to deploy with the real <c>docker stack deploy</c>.</summary>
    public string? ComposeFile { get; init; }

    /// <summary>Environment variables to set in the service (added to, or replacing, those of the spec).</summary>
    public IReadOnlyDictionary<string, string> Variables { get; init; } = new Dictionary<string, string>();

    /// <summary>The port of a colour created from the active colour's spec (label puo.port, variable PORT).</summary>
    public int? Port { get; init; }

    /// <summary>How long to wait for the service to converge and answer /health.</summary>
    public TimeSpan Wait { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>Deploy even onto the active colour.</summary>
    public bool Force { get; init; }
}

/// <summary>
/// Publish-PuoDeployment: puts a new version on the idle colour and waits until it converged and answers /health.
/// With an image, the colour's Swarm service (label puo.color) is updated, or created from the active colour's spec;
/// with a compose file, the runbook's own <c>docker stack deploy -c &lt;file&gt; &lt;project&gt;-&lt;colour&gt;</c> runs, or on an
/// engine that is not a Swarm manager <c>docker compose -p &lt;project&gt;-&lt;colour&gt; up -d --wait</c>.
/// The active colour is never touched unless forced.
/// </summary>
public static class DeploymentService
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(250);

    public static async Task<DeploymentResult> PublishAsync(OperationContext ctx, PublishOptions options)
    {
        var clock = Stopwatch.StartNew();
        var current = await TrafficService.ReadAsync(ctx).ConfigureAwait(false);
        if (string.Equals(current.Active?.Color, options.Color, StringComparison.OrdinalIgnoreCase) && !options.Force)
            throw new PuoException(ErrorKind.InvalidOperation, "PuoOps.Deployment.ActiveColor",
                $"{options.Color} is the active colour: {current.Path} sends traffic to it. Deploy to the idle colour and Switch-PuoTraffic, or add -Force.", options.Color);
        string action;
        string? previousImage = null;
        IReadOnlyList<string> services;
        var wait = new OperationContext(ctx.Environment, options.Wait, ctx.Cancellation, ctx.Progress, ctx.Verbose);
        IReadOnlyList<string> containers = [];
        if (options.ComposeFile is { } composeFile && !await IsSwarmManagerAsync(ctx).ConfigureAwait(false))
        {
            // A host without Swarm: the colour is a compose project of its own, so the active colour's project is never touched.
            action = "ComposeUp";
            containers = await ComposeUpAsync(wait, composeFile, $"{ctx.Environment.ComposeProject}-{options.Color}".ToLowerInvariant()).ConfigureAwait(false);
            services = [];
        }
        else if (options.ComposeFile is { } stackFile)
        {
            var stack = $"{ctx.Environment.ComposeProject}-{options.Color}";
            ctx.Log($"docker stack deploy -c {stackFile} {stack}");
            var result = await DockerCli.RunAsync(ctx, "docker", ["stack", "deploy", "-c", stackFile, stack]).ConfigureAwait(false);
            if (result.ExitCode != 0)
                throw new PuoException(ErrorKind.InvalidOperation, "PuoOps.Deployment.StackDeploy",
                    $"docker stack deploy -c {stackFile} {stack} failed (exit {result.ExitCode}): {result.Message}", stackFile);
            action = "StackDeployed";
            services = (await Colors.ListServicesAsync(ctx).ConfigureAwait(false))
                .Where(s => Colors.ColorOf(s) == options.Color).Select(s => s.ID).ToList();
            if (services.Count == 0)
                throw new PuoException(ErrorKind.NotFound, "PuoOps.Deployment.NoColoredService",
                    $"docker stack deploy created stack {stack}, but none of its services is labelled {Colors.ColorLabel}={options.Color}: label the service nginx sends traffic to (deploy.labels).", stack);
        }
        else
        {
            var image = options.Image ?? throw new PuoException(ErrorKind.InvalidArgument, "PuoOps.Deployment.WhatToDeploy", "Give -Image or -ComposeFile.", "Image");
            var existing = (await Colors.ListServicesAsync(ctx).ConfigureAwait(false))
                .Where(s => string.Equals(Colors.ColorOf(s), options.Color, StringComparison.OrdinalIgnoreCase))
                .ToList();
            if (existing.Count > 0)
            {
                action = "Updated";
                foreach (var found in existing)
                {
                    var service = InspectedService.From(found, ctx.Environment.DockerHost);
                    var container = service.TaskTemplate.ContainerSpec ?? throw Incomplete(ctx, service.Name);
                    previousImage ??= container.Image;
                    container.Image = image;
                    container.Env = WithVariables(container.Env, options, image);
                    await DockerConnections.CallAsync(ctx, "Updating the Swarm service", service.Name, (client, token) =>
                        client.Swarm.UpdateServiceAsync(service.ID, new ServiceUpdateParameters { Service = service.Spec, Version = (long)service.Version }, token)).ConfigureAwait(false);
                    ctx.Log($"Updated Swarm service {service.Name} to {image}.");
                }
                services = existing.Select(s => s.ID).ToList();
            }
            else
            {
                action = "Created";
                services = [await CreateFromActiveAsync(ctx, current, options, image).ConfigureAwait(false)];
            }
        }

        var names = new List<string>(containers);
        foreach (var id in services)
            names.Add(await WaitConvergedAsync(wait, id, options.Image, clock).ConfigureAwait(false));
        var backends = (await Colors.ResolveAsync(ctx).ConfigureAwait(false)).FirstOrDefault(c => c.Color == options.Color)?.Backends ?? [];
        if (backends.Count == 0)
            throw new PuoException(ErrorKind.NotFound, "PuoOps.Deployment.NoBackend",
                $"{options.Color} was deployed ({action}: {string.Join(", ", names)}), but it has no backend to wait for: label what nginx sends traffic to " +
                $"{Colors.ColorLabel}={options.Color}, with a published port or {Colors.PortLabel}=<port> on the host network (or give the colours with Connect-PuoEnvironment -Color).", options.Color);
        var (status, detail) = await WaitHealthyAsync(wait, backends, clock).ConfigureAwait(false);
        return new DeploymentResult
        {
            Environment = ctx.Environment.Name, Color = options.Color, Action = action, Services = names, Image = options.Image,
            PreviousImage = previousImage, Backends = backends, Status = status, Detail = detail, Duration = clock.Elapsed,
        };
    }

    /// <summary>Whether the environment's engine is a Swarm manager (else -ComposeFile runs docker compose).</summary>
    private static async Task<bool> IsSwarmManagerAsync(OperationContext ctx)
    {
        try
        {
            await Colors.ListServicesAsync(ctx).ConfigureAwait(false);
            return true;
        }
        catch (PuoException ex) when (ex.ErrorId == "PuoOps.Docker.NotASwarmManager")
        {
            return false;
        }
    }

    /// <summary>
    /// <c>docker compose -p &lt;project&gt; -f &lt;file&gt; up -d --wait</c> (docker-compose v1: without --wait; the
    /// health wait follows either way), then the names of the project's containers.
    /// </summary>
    private static async Task<IReadOnlyList<string>> ComposeUpAsync(OperationContext ctx, string composeFile, string project)
    {
        var compose = await DockerCli.FindComposeAsync(ctx).ConfigureAwait(false)
            ?? throw new PuoException(ErrorKind.ResourceUnavailable, "PuoOps.Deployment.NoCompose",
                $"The Docker engine at {ctx.Environment.DockerHost} is not a Swarm manager, so -ComposeFile deploys with docker compose, but this host has " +
                "neither the docker compose plugin nor docker-compose on PATH. Install one (Debian: apt-get install docker-compose), " +
                "or deploy with docker stack deploy on a Swarm manager (docker swarm init).", composeFile);
        var arguments = compose.Up(project, composeFile);
        var shown = $"{compose} {string.Join(' ', arguments.Skip(compose.Prefix.Count))}";
        ctx.Log(shown);
        var result = await DockerCli.RunAsync(ctx, compose.Program, arguments).ConfigureAwait(false);
        if (result.ExitCode != 0)
            throw new PuoException(ErrorKind.InvalidOperation, "PuoOps.Deployment.ComposeUp", $"{shown} failed (exit {result.ExitCode}): {result.Message}", composeFile);
        var listed = await DockerConnections.CallAsync(ctx, "Listing the compose project's containers", project, (client, token) =>
            client.Containers.ListContainersAsync(new ContainersListParameters
            {
                All = true,
                Filters = DockerConnections.LabelFilter($"{ContainerService.ProjectLabel}={project}"),
            }, token)).ConfigureAwait(false);
        if (listed.Count == 0)
            throw new PuoException(ErrorKind.NotFound, "PuoOps.Deployment.NoComposeContainer",
                $"{shown} succeeded, but Docker at {ctx.Environment.DockerHost} has no container of compose project {project}.", project);
        return listed.Select(c => c.Names?.FirstOrDefault()?.TrimStart('/') ?? c.ID).Order(StringComparer.Ordinal).ToList();
    }

    /// <summary>A new service for the colour from the active colour's spec: its name with the colour swapped, the new image, the new port.</summary>
    private static async Task<string> CreateFromActiveAsync(OperationContext ctx, TrafficService.Current current, PublishOptions options, string image)
    {
        var template = current.Active is { Services.Count: > 0 } active ? active.Services[0]
            : current.Colors.FirstOrDefault(c => c.Services.Count > 0)?.Services[0]
              ?? throw new PuoException(ErrorKind.NotFound, "PuoOps.Deployment.NoTemplate",
                  $"There is no Swarm service labelled {Colors.ColorLabel} to take {options.Color}'s spec from. Create the first colour with docker service create --label {Colors.ColorLabel}=<colour>.", options.Color);
        var port = options.Port ?? throw new PuoException(ErrorKind.InvalidArgument, "PuoOps.Deployment.Port",
            $"{options.Color} has no Swarm service yet; give -Port, the 127.0.0.1 port its backend listens on (it must differ from the active colour's).", "Port");
        var source = await ServiceTarget.InspectSwarmAsync(ctx, template).ConfigureAwait(false);
        var spec = source.Spec;
        var fromColor = spec.Labels[Colors.ColorLabel];
        var name = source.Name;
        spec.Name = name.Contains(fromColor, StringComparison.Ordinal) ? name.Replace(fromColor, options.Color, StringComparison.Ordinal) : $"{name}-{options.Color}";
        spec.Labels = new Dictionary<string, string>(spec.Labels)
        {
            [Colors.ColorLabel] = options.Color,
            [Colors.PortLabel] = port.ToString(CultureInfo.InvariantCulture),
        };
        var container = spec.TaskTemplate?.ContainerSpec ?? throw Incomplete(ctx, source.Name);
        container.Image = image;
        container.Env = WithVariables(container.Env, options, image, port);
        if (spec.EndpointSpec?.Ports is { Count: > 0 } ports)
            ports[0].PublishedPort = (uint)port;
        var created = await DockerConnections.CallAsync(ctx, "Creating the Swarm service", spec.Name, (client, token) =>
            client.Swarm.CreateServiceAsync(new ServiceCreateParameters { Service = spec }, token)).ConfigureAwait(false);
        ctx.Log($"Created Swarm service {spec.Name} ({options.Color}, {image}, port {port}) from {source.Name}'s spec.");
        return created.ID ?? spec.Name;
    }

    /// <summary>The spec's variables with -EnvironmentVariable applied, and PUO_COLOR, PUO_IMAGE (and PORT) saying what runs.</summary>
    private static List<string> WithVariables(IList<string>? env, PublishOptions options, string image, int? port = null)
    {
        var variables = (env ?? []).Select(v => v.Split('=', 2)).ToDictionary(p => p[0], p => p.Length > 1 ? p[1] : "", StringComparer.Ordinal);
        foreach (var (name, value) in options.Variables)
            variables[name] = value;
        variables["PUO_COLOR"] = options.Color;
        variables["PUO_IMAGE"] = image;
        if (port is { } p)
            variables["PORT"] = p.ToString(CultureInfo.InvariantCulture);
        return variables.Select(v => $"{v.Key}={v.Value}").ToList();
    }

    /// <summary>Every desired task runs (with <paramref name="image"/> when given) and none of the old ones is still running.</summary>
    private static async Task<string> WaitConvergedAsync(OperationContext ctx, string id, string? image, Stopwatch clock)
    {
        while (true)
        {
            var service = await ServiceTarget.InspectSwarmAsync(ctx, id).ConfigureAwait(false);
            var tasks = await ServiceTarget.ListTasksAsync(ctx, service).ConfigureAwait(false);
            var desired = (int?)service.DesiredReplicas ?? tasks.Count(t => t.DesiredState == TaskState.Running);
            var running = tasks.Count(t => t.DesiredState == TaskState.Running && t.Status?.State == TaskState.Running
                                           && (image is null || t.Spec?.ContainerSpec?.Image == image));
            var lingering = tasks.Count(t => t.DesiredState != TaskState.Running && t.Status?.State is TaskState.Running or TaskState.Starting);
            if (running >= desired && desired > 0 && lingering == 0)
                return service.Name;
            ctx.Report(new ProgressInfo("Publish-PuoDeployment", $"{service.Name}: {running}/{desired} running"));
            if (clock.Elapsed + PollInterval > ctx.Timeout)
                throw new PuoException(ErrorKind.Timeout, "PuoOps.Deployment.NotConverged",
                    $"Swarm service '{service.Name}' did not converge within {ctx.TimeoutSeconds} s: {running}/{desired} running" +
                    (lingering > 0 ? $", {lingering} old still stopping" : "") + ". See docker service ps and Get-PuoServiceLog, or raise -WaitSec.", service.Name);
            await Task.Delay(PollInterval, ctx.Cancellation).ConfigureAwait(false);
        }
    }

    private static async Task<(Status, string)> WaitHealthyAsync(OperationContext ctx, IReadOnlyList<string> backends, Stopwatch clock)
    {
        var probe = new OperationContext(ctx.Environment, TimeSpan.FromSeconds(5), ctx.Cancellation, ctx.Progress, ctx.Verbose);
        while (true)
        {
            var (status, detail) = await TrafficService.ProbeAsync(probe, backends).ConfigureAwait(false);
            if (status is Status.OK or Status.Warning)
                return (status, detail);
            if (clock.Elapsed + PollInterval > ctx.Timeout)
                throw new PuoException(ErrorKind.Timeout, "PuoOps.Deployment.NotHealthy",
                    $"The deployment runs but did not answer /health within {ctx.TimeoutSeconds} s: {detail}. See Get-PuoServiceLog, or raise -WaitSec.", string.Join(", ", backends));
            await Task.Delay(PollInterval, ctx.Cancellation).ConfigureAwait(false);
        }
    }

    private static PuoException Incomplete(OperationContext ctx, string service) =>
        new(ErrorKind.InvalidOperation, "PuoOps.Docker.IncompleteAnswer",
            $"Docker at {ctx.Environment.DockerHost} described Swarm service {service} without its container spec; nothing was changed.", service);
}
