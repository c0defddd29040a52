package main

import (
	"context"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/archive"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/asset"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
)

// Upstream: triggers are tagged provider:"replaceOnChanges" (common/inputs.go ResourceInputs); every other
// input change is an update (infer/resource.go Diff with CustomUpdate implemented).
func TestDiffReplacesOnTriggersAndUpdatesOtherwise(t *testing.T) {
	p := &provider{}
	olds := resource.PropertyMap{"create": resource.NewStringProperty("a"), "triggers": resource.NewArrayProperty([]resource.PropertyValue{resource.NewStringProperty("1")})}

	same, err := p.Diff(context.Background(), plugin.DiffRequest{Type: typeRemoteCommand, OldInputs: olds, NewInputs: olds.Copy()})
	if err != nil || same.Changes != plugin.DiffNone {
		t.Fatalf("unchanged inputs: got %v, %v", same.Changes, err)
	}

	upd := olds.Copy()
	upd["create"] = resource.NewStringProperty("b")
	d, _ := p.Diff(context.Background(), plugin.DiffRequest{Type: typeRemoteCommand, OldInputs: olds, NewInputs: upd})
	if d.Changes != plugin.DiffSome || len(d.ReplaceKeys) != 0 {
		t.Fatalf("create change must update in place: %+v", d)
	}

	rep := olds.Copy()
	rep["triggers"] = resource.NewArrayProperty([]resource.PropertyValue{resource.NewStringProperty("2")})
	d, _ = p.Diff(context.Background(), plugin.DiffRequest{Type: typeRemoteCommand, OldInputs: olds, NewInputs: rep})
	if len(d.ReplaceKeys) != 1 || d.ReplaceKeys[0] != "triggers" {
		t.Fatalf("triggers change must replace: %+v", d)
	}
}

// Upstream: remote/copyController.go CopyToRemote.Check.
func TestCopySourceMustBeFileAssetStringAssetOrFileArchive(t *testing.T) {
	text, err := asset.FromText("x")
	if err != nil {
		t.Fatal(err)
	}
	assets, err := archive.FromAssets(map[string]any{"a.txt": text})
	if err != nil {
		t.Fatal(err)
	}
	dir, err := archive.FromPath(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		source resource.PropertyValue
		ok     bool
	}{
		"StringAsset":  {resource.NewAssetProperty(text), true},
		"FileArchive":  {resource.NewArchiveProperty(dir), true},
		"AssetArchive": {resource.NewArchiveProperty(assets), false},
	} {
		failures := checkCopySource(resource.PropertyMap{"source": tc.source})
		if (len(failures) == 0) != tc.ok {
			t.Errorf("%s: failures %v", name, failures)
		}
	}
}

// Upstream: remote/commandOutputs.go CommandOutputs.run — PULUMI_COMMAND_STDOUT/STDERR carry only non-empty
// previous output, on update and delete, while addPreviousOutputInEnv (default true) is on.
func TestPreviousOutputIsPassedOnlyWhenNonEmpty(t *testing.T) {
	inputs := resource.PropertyMap{}
	olds := resource.PropertyMap{"stdout": resource.NewStringProperty("out"), "stderr": resource.NewStringProperty("")}
	if env := previousOutputEnv("update", inputs, olds); len(env) != 1 || env[0] != [2]string{"PULUMI_COMMAND_STDOUT", "out"} {
		t.Fatalf("update env: %v", env)
	}
	if env := previousOutputEnv("create", inputs, olds); len(env) != 0 {
		t.Fatalf("create env: %v", env)
	}
	inputs["addPreviousOutputInEnv"] = resource.NewBoolProperty(false)
	if env := previousOutputEnv("delete", inputs, olds); len(env) != 0 {
		t.Fatalf("addPreviousOutputInEnv=false: %v", env)
	}
}

