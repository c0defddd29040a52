// Command pulumi-resource-preview-standin answers `pulumi preview` for providers that cannot be built here
// (tailscale, cloudflare: their provider modules are refused by the reachable Go module proxy). It is installed
// into the toolchain cache only, as pulumi-resource-tailscale and pulumi-resource-cloudflare, and takes its
// package name from the name it runs under.
//
// What it does: Check passes inputs through unvalidated, Diff compares inputs, Create/Update in a preview return
// the inputs (so the Node.js SDK sees every other output as unknown, as with the real provider); any real
// Create/Update/Invoke fails with a message saying a stand-in cannot touch the real API. So a preview through it
// proves the program, its config handling and the engine's graph checks (URNs, dependencies, secrets), not the
// provider's own input validation; that stays with the mock tests (docs/engine-tests.md).
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/blang/semver"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
)

// versions maps package name to the version reported (set by -ldflags from package.json), e.g. "tailscale=0.29.1,cloudflare=6.22.1".
var versions = ""

func main() {
	pkg := strings.TrimPrefix(filepath.Base(os.Args[0]), "pulumi-resource-")
	p := &standin{pkg: pkg, version: "0.0.1"}
	for _, kv := range strings.Split(versions, ",") {
		if name, v, ok := strings.Cut(kv, "="); ok && name == pkg {
			p.version = v
		}
	}
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterResourceProviderServer(srv, plugin.NewProviderServer(p))
			return nil
		},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s preview stand-in: %v\n", pkg, err)
		os.Exit(1)
	}
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		os.Exit(1)
	}
}

type standin struct {
	plugin.UnimplementedProvider
	pkg, version string
}

func (p *standin) refuse(what string) error {
	return fmt.Errorf("%s: this is the preview-only stand-in for the %s provider (the real provider cannot be built "+
		"on this machine); it cannot %s. See docs/engine-tests.md", p.pkg, p.pkg, what)
}

func (p *standin) Close() error                             { return nil }
func (p *standin) SignalCancellation(context.Context) error { return nil }

func (p *standin) Handshake(context.Context, plugin.ProviderHandshakeRequest) (*plugin.ProviderHandshakeResponse, error) {
	return &plugin.ProviderHandshakeResponse{AcceptSecrets: true, AcceptResources: true}, nil
}

func (p *standin) GetPluginInfo(context.Context) (plugin.PluginInfo, error) {
	v, err := semver.Parse(p.version)
	if err != nil {
		return plugin.PluginInfo{}, err
	}
	return plugin.PluginInfo{Version: &v}, nil
}

func (p *standin) CheckConfig(_ context.Context, req plugin.CheckConfigRequest) (plugin.CheckConfigResponse, error) {
	return plugin.CheckConfigResponse{Properties: req.News}, nil
}

func (p *standin) DiffConfig(context.Context, plugin.DiffConfigRequest) (plugin.DiffConfigResponse, error) {
	return plugin.DiffResult{Changes: plugin.DiffNone}, nil
}

func (p *standin) Configure(context.Context, plugin.ConfigureRequest) (plugin.ConfigureResponse, error) {
	return plugin.ConfigureResponse{}, nil
}

func (p *standin) Check(_ context.Context, req plugin.CheckRequest) (plugin.CheckResponse, error) {
	return plugin.CheckResponse{Properties: req.News}, nil
}

func (p *standin) Diff(_ context.Context, req plugin.DiffRequest) (plugin.DiffResponse, error) {
	diff := req.OldInputs.DiffIncludeUnknowns(req.NewInputs)
	if diff == nil || !diff.AnyChanges() {
		return plugin.DiffResult{Changes: plugin.DiffNone}, nil
	}
	return plugin.DiffResult{Changes: plugin.DiffSome, ChangedKeys: diff.ChangedKeys()}, nil
}

func (p *standin) Create(_ context.Context, req plugin.CreateRequest) (plugin.CreateResponse, error) {
	if !req.Preview {
		return plugin.CreateResponse{}, p.refuse("create " + string(req.Type))
	}
	return plugin.CreateResponse{Properties: req.Properties}, nil
}

func (p *standin) Update(_ context.Context, req plugin.UpdateRequest) (plugin.UpdateResponse, error) {
	if !req.Preview {
		return plugin.UpdateResponse{}, p.refuse("update " + string(req.Type))
	}
	return plugin.UpdateResponse{Properties: req.NewInputs}, nil
}

func (p *standin) Delete(_ context.Context, req plugin.DeleteRequest) (plugin.DeleteResponse, error) {
	return plugin.DeleteResponse{}, p.refuse("delete " + string(req.Type))
}

func (p *standin) Read(_ context.Context, req plugin.ReadRequest) (plugin.ReadResponse, error) {
	return plugin.ReadResponse{ReadResult: plugin.ReadResult{ID: req.ID, Inputs: req.Inputs, Outputs: req.State}}, nil
}

func (p *standin) Invoke(_ context.Context, req plugin.InvokeRequest) (plugin.InvokeResponse, error) {
	return plugin.InvokeResponse{}, p.refuse("invoke " + string(req.Tok))
}

var _ = resource.PropertyMap{}
