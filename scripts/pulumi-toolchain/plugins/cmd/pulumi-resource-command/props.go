package main

import (
	"crypto/rand"
	"encoding/hex"
	"sort"

	"github.com/blang/semver"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
)

type tokensType = tokens.Type

func mustSemver(v string) semver.Version { return semver.MustParse(v) }

func randomSuffix() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// unsecret removes secret wrappers (deeply) so values can be used; outputs keep the original wrappers.
func unsecret(v resource.PropertyValue) resource.PropertyValue {
	switch {
	case v.IsSecret():
		return unsecret(v.SecretValue().Element)
	case v.IsObject():
		out := resource.PropertyMap{}
		for k, e := range v.ObjectValue() {
			out[k] = unsecret(e)
		}
		return resource.NewObjectProperty(out)
	case v.IsArray():
		arr := v.ArrayValue()
		out := make([]resource.PropertyValue, len(arr))
		for i, e := range arr {
			out[i] = unsecret(e)
		}
		return resource.NewArrayProperty(out)
	}
	return v
}

func has(m resource.PropertyMap, key resource.PropertyKey) bool {
	v, ok := m[key]
	return ok && !v.IsNull()
}

func str(m resource.PropertyMap, key resource.PropertyKey) (string, bool) {
	v, ok := m[key]
	if !ok {
		return "", false
	}
	v = unsecret(v)
	if !v.IsString() {
		return "", false
	}
	return v.StringValue(), true
}

func num(m resource.PropertyMap, key resource.PropertyKey, def float64) float64 {
	v, ok := m[key]
	if !ok {
		return def
	}
	v = unsecret(v)
	if !v.IsNumber() {
		return def
	}
	return v.NumberValue()
}

func boolean(m resource.PropertyMap, key resource.PropertyKey, def bool) bool {
	v, ok := m[key]
	if !ok {
		return def
	}
	v = unsecret(v)
	if !v.IsBool() {
		return def
	}
	return v.BoolValue()
}

func obj(m resource.PropertyMap, key resource.PropertyKey) resource.PropertyMap {
	v, ok := m[key]
	if !ok {
		return nil
	}
	v = unsecret(v)
	if !v.IsObject() {
		return nil
	}
	return v.ObjectValue()
}

// stringMap returns a map input (e.g. environment) as sorted key/value pairs.
func stringMap(m resource.PropertyMap, key resource.PropertyKey) [][2]string {
	o := obj(m, key)
	keys := make([]string, 0, len(o))
	for k := range o {
		keys = append(keys, string(k))
	}
	sort.Strings(keys)
	out := make([][2]string, 0, len(keys))
	for _, k := range keys {
		v := unsecret(o[resource.PropertyKey(k)])
		if v.IsString() {
			out = append(out, [2]string{k, v.StringValue()})
		}
	}
	return out
}

func stringList(m resource.PropertyMap, key resource.PropertyKey) []string {
	v, ok := m[key]
	if !ok {
		return nil
	}
	v = unsecret(v)
	if !v.IsArray() {
		return nil
	}
	var out []string
	for _, e := range v.ArrayValue() {
		if e = unsecret(e); e.IsString() {
			out = append(out, e.StringValue())
		}
	}
	return out
}

// commandOutputs returns a command's state: its inputs plus stdout and stderr, with secrecy as
// pulumi-go-provider's infer gives upstream (infer/resource.go, markSecret with the ensureDefaultSecrets flow):
// an output is secret when the input *of the same name* is, or when its field is tagged provider:"secret".
// No input is called stdout or stderr, so they are never secret here however secret stdin or the command is;
// only the program's additionalSecretOutputs (applied by the engine) hides them. The connection is tagged
// provider:"secret" (remote/command.go CommandInputs), so it is always secret.
func commandOutputs(inputs resource.PropertyMap, out [2]string) resource.PropertyMap {
	outs := connectionSecret(inputs.Copy())
	outs["stdout"], outs["stderr"] = resource.NewStringProperty(out[0]), resource.NewStringProperty(out[1])
	return outs
}

// connectionSecret marks the connection secret, as the provider:"secret" tag does for every resource with one.
func connectionSecret(m resource.PropertyMap) resource.PropertyMap {
	if c, ok := m["connection"]; ok && !c.IsSecret() && !c.IsNull() && !c.IsComputed() {
		m["connection"] = resource.MakeSecret(c)
	}
	return m
}

// previousOutput is what a run without a command for op keeps: the previous stdout/stderr.
func previousOutput(op string, oldOutputs resource.PropertyMap) [2]string {
	if op == "create" || oldOutputs == nil {
		return [2]string{}
	}
	so, _ := str(oldOutputs, "stdout")
	se, _ := str(oldOutputs, "stderr")
	return [2]string{so, se}
}

// commandFor picks the command for an operation: update falls back to create (remote/commandController.go
// Update); an empty command string still runs, as upstream only checks for nil.
func commandFor(op string, inputs resource.PropertyMap) (string, bool) {
	switch op {
	case "create":
		return str(inputs, "create")
	case "update":
		if c, ok := str(inputs, "update"); ok {
			return c, true
		}
		return str(inputs, "create")
	case "delete":
		return str(inputs, "delete")
	}
	return "", false
}

// previousOutputEnv is PULUMI_COMMAND_STDOUT/STDERR for update and delete: only non-empty previous output,
// and only while addPreviousOutputInEnv (default true) is on (remote/commandOutputs.go run).
func previousOutputEnv(op string, inputs, oldOutputs resource.PropertyMap) [][2]string {
	if op == "create" || oldOutputs == nil || !boolean(inputs, "addPreviousOutputInEnv", true) {
		return nil
	}
	var env [][2]string
	if so, _ := str(oldOutputs, "stdout"); so != "" {
		env = append(env, [2]string{"PULUMI_COMMAND_STDOUT", so})
	}
	if se, _ := str(oldOutputs, "stderr"); se != "" {
		env = append(env, [2]string{"PULUMI_COMMAND_STDERR", se})
	}
	return env
}
