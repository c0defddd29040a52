// Command pulumi-resource-command is a stand-in for the Pulumi "command" provider (@pulumi/command 1.2.1),
// written for FUD Buddy's engine tests.
//
// Why it exists: the upstream provider module (github.com/pulumi/pulumi-command/provider) is not served by the
// Go module proxy reachable from this project's machines (404), and its source may not be copied here. This
// plugin implements the same resource types and input/output names the @pulumi/command npm SDK registers
// (command:remote:Command, command:remote:CopyToRemote, command:local:Command) against the same engine
// protocol, so a real `pulumi up` runs real shell commands over real SSH and copies files over real SFTP.
// Each rule follows upstream's source at v1.2.1 (provider/pkg/provider/remote and local, and
// pulumi-go-provider's infer for secrecy); the Go tests name the upstream file and function each one follows,
// and docs/engine-tests.md lists them with what is not implemented.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// version is what GetPluginInfo reports; it matches the npm SDK so the engine's version checks agree.
var version = "1.2.1"

const (
	typeRemoteCommand = "command:remote:Command"
	typeCopyToRemote  = "command:remote:CopyToRemote"
	typeLocalCommand  = "command:local:Command"
)

func main() {
	p := &provider{}
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterResourceProviderServer(srv, plugin.NewProviderServer(p))
			return nil
		},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-resource-command: could not start gRPC server: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-resource-command: gRPC server stopped: %v\n", err)
		os.Exit(1)
	}
}

type provider struct {
	plugin.UnimplementedProvider
	engine pulumirpc.EngineClient
}

func (p *provider) Close() error { return nil }

func (p *provider) SignalCancellation(context.Context) error { return nil }

func (p *provider) Handshake(_ context.Context, req plugin.ProviderHandshakeRequest) (*plugin.ProviderHandshakeResponse, error) {
	if req.EngineAddress != "" {
		conn, err := grpc.NewClient(req.EngineAddress, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err == nil {
			p.engine = pulumirpc.NewEngineClient(conn)
		}
	}
	return &plugin.ProviderHandshakeResponse{AcceptSecrets: true, AcceptResources: true}, nil
}

func (p *provider) GetPluginInfo(context.Context) (plugin.PluginInfo, error) {
	v := mustSemver(version)
	return plugin.PluginInfo{Version: &v}, nil
}

func (p *provider) CheckConfig(_ context.Context, req plugin.CheckConfigRequest) (plugin.CheckConfigResponse, error) {
	return plugin.CheckConfigResponse{Properties: req.News}, nil
}

func (p *provider) DiffConfig(context.Context, plugin.DiffConfigRequest) (plugin.DiffConfigResponse, error) {
	return plugin.DiffResult{Changes: plugin.DiffNone}, nil
}

func (p *provider) Configure(context.Context, plugin.ConfigureRequest) (plugin.ConfigureResponse, error) {
	return plugin.ConfigureResponse{}, nil
}

func (p *provider) Check(_ context.Context, req plugin.CheckRequest) (plugin.CheckResponse, error) {
	var failures []plugin.CheckFailure
	switch req.Type {
	case typeRemoteCommand:
		failures = append(failures, checkConnection(req.News)...)
	case typeCopyToRemote:
		failures = append(failures, checkConnection(req.News)...)
		failures = append(failures, checkCopySource(req.News)...)
		if !has(req.News, "remotePath") {
			failures = append(failures, plugin.CheckFailure{Property: "remotePath", Reason: "missing required property 'remotePath'"})
		}
	case typeLocalCommand:
	default:
		return plugin.CheckResponse{}, fmt.Errorf("unknown resource type %q (this stand-in implements %s, %s and %s)",
			req.Type, typeRemoteCommand, typeCopyToRemote, typeLocalCommand)
	}
	return plugin.CheckResponse{Properties: req.News, Failures: failures}, nil
}

func checkConnection(news resource.PropertyMap) []plugin.CheckFailure {
	conn, ok := news["connection"]
	if !ok || conn.IsNull() {
		return []plugin.CheckFailure{{Property: "connection", Reason: "missing required property 'connection'"}}
	}
	obj := unsecret(conn)
	if obj.IsComputed() || !obj.IsObject() {
		return nil
	}
	if host, ok := obj.ObjectValue()["host"]; !ok || host.IsNull() {
		return []plugin.CheckFailure{{Property: "connection.host", Reason: "missing required property 'connection.host'"}}
	}
	return nil
}

// Diff: a change to triggers replaces; any other input change (connection, commands, a copy's source or
// remotePath) updates, as upstream.
func (p *provider) Diff(_ context.Context, req plugin.DiffRequest) (plugin.DiffResponse, error) {
	diff := req.OldInputs.DiffIncludeUnknowns(req.NewInputs)
	if diff == nil || !diff.AnyChanges() {
		return plugin.DiffResult{Changes: plugin.DiffNone}, nil
	}
	var changed, replace []resource.PropertyKey
	for _, k := range diff.ChangedKeys() {
		changed = append(changed, k)
		if k == "triggers" {
			replace = append(replace, k)
		}
	}
	detailed := plugin.NewDetailedDiffFromObjectDiff(diff, true)
	for path, d := range detailed {
		for _, k := range replace {
			if path == string(k) || len(path) > len(k) && path[:len(k)] == string(k) && (path[len(k)] == '.' || path[len(k)] == '[') {
				d.Kind = d.Kind.AsReplace()
				detailed[path] = d
			}
		}
	}
	return plugin.DiffResult{Changes: plugin.DiffSome, ChangedKeys: changed, ReplaceKeys: replace, DetailedDiff: detailed}, nil
}

func (p *provider) Create(ctx context.Context, req plugin.CreateRequest) (plugin.CreateResponse, error) {
	id := resource.ID(fmt.Sprintf("%s-%s", req.Name, randomSuffix()))
	if req.Preview {
		return plugin.CreateResponse{ID: "", Properties: previewOutputs(req.Type, req.Properties)}, nil
	}
	outs, err := p.run(ctx, req.URN, req.Type, "create", req.Properties, nil)
	if err != nil {
		return plugin.CreateResponse{}, err
	}
	return plugin.CreateResponse{ID: id, Properties: outs}, nil
}

func (p *provider) Update(ctx context.Context, req plugin.UpdateRequest) (plugin.UpdateResponse, error) {
	if req.Preview {
		return plugin.UpdateResponse{Properties: previewOutputs(req.Type, req.NewInputs)}, nil
	}
	outs, err := p.run(ctx, req.URN, req.Type, "update", req.NewInputs, req.OldOutputs)
	if err != nil {
		return plugin.UpdateResponse{}, err
	}
	return plugin.UpdateResponse{Properties: outs}, nil
}

func (p *provider) Delete(ctx context.Context, req plugin.DeleteRequest) (plugin.DeleteResponse, error) {
	switch req.Type {
	case typeRemoteCommand, typeLocalCommand:
		if _, err := p.run(ctx, req.URN, req.Type, "delete", req.Outputs, req.Outputs); err != nil {
			return plugin.DeleteResponse{}, err
		}
	}
	// CopyToRemote leaves the copied files in place, as the upstream provider does.
	return plugin.DeleteResponse{}, nil
}

// Read (refresh) keeps the recorded state: a command's effects cannot be read back.
func (p *provider) Read(_ context.Context, req plugin.ReadRequest) (plugin.ReadResponse, error) {
	return plugin.ReadResponse{ReadResult: plugin.ReadResult{ID: req.ID, Inputs: req.Inputs, Outputs: req.State}}, nil
}

func (p *provider) run(ctx context.Context, urn resource.URN, typ tokensType, op string, inputs, oldOutputs resource.PropertyMap) (resource.PropertyMap, error) {
	switch typ {
	case typeRemoteCommand:
		return runRemoteCommand(ctx, op, inputs, oldOutputs, p.logFor(ctx, urn))
	case typeLocalCommand:
		return runLocalCommand(ctx, op, inputs, oldOutputs, p.logFor(ctx, urn))
	case typeCopyToRemote:
		if op == "delete" {
			return inputs, nil
		}
		// As upstream, an update copies again only when the source content or the destination changed.
		if op == "update" && oldOutputs != nil && sameCopy(oldOutputs, inputs) {
			return connectionSecret(inputs.Copy()), nil
		}
		if err := copyToRemote(ctx, inputs, p.logFor(ctx, urn)); err != nil {
			return nil, err
		}
		return connectionSecret(inputs.Copy()), nil
	}
	return nil, fmt.Errorf("unknown resource type %q", typ)
}

func previewOutputs(typ tokensType, inputs resource.PropertyMap) resource.PropertyMap {
	outs := connectionSecret(inputs.Copy())
	if typ == typeRemoteCommand || typ == typeLocalCommand {
		outs["stdout"] = resource.MakeComputed(resource.NewStringProperty(""))
		outs["stderr"] = resource.MakeComputed(resource.NewStringProperty(""))
	}
	return outs
}

// sameCopy reports whether two CopyToRemote states copy the same content to the same place.
func sameCopy(a, b resource.PropertyMap) bool {
	ra, _ := str(a, "remotePath")
	rb, _ := str(b, "remotePath")
	return ra == rb && sourceHash(a) == sourceHash(b) && sourceHash(a) != ""
}

func sourceHash(m resource.PropertyMap) string {
	v := unsecret(m["source"])
	switch {
	case v.IsAsset():
		return v.AssetValue().Hash
	case v.IsArchive():
		return v.ArchiveValue().Hash
	}
	return ""
}
