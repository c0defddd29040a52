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

// commandOutputs returns the inputs plus stdout/stderr; output text is marked secret when any input other than
// the connection is secret, since a command fed a secret may print it.
func commandOutputs(inputs resource.PropertyMap, stdout, stderr string) resource.PropertyMap {
	outs := inputs.Copy()
	secret := false
	for k, v := range inputs {
		if k != "connection" && v.ContainsSecrets() {
			secret = true
		}
	}
	so, se := resource.NewStringProperty(stdout), resource.NewStringProperty(stderr)
	if secret {
		so, se = resource.MakeSecret(so), resource.MakeSecret(se)
	}
	outs["stdout"], outs["stderr"] = so, se
	return outs
}

// commandFor picks the command for an operation: update falls back to create, as upstream does.
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

// commandEnv builds the environment for a command: the environment input plus, for update/delete, the previous
// stdout/stderr (addPreviousOutputInEnv, default true).
func commandEnv(op string, inputs, oldOutputs resource.PropertyMap) [][2]string {
	env := stringMap(inputs, "environment")
	if op != "create" && oldOutputs != nil && boolean(inputs, "addPreviousOutputInEnv", true) {
		// As upstream: only non-empty previous output is passed.
		if so, _ := str(oldOutputs, "stdout"); so != "" {
			env = append(env, [2]string{"PULUMI_COMMAND_STDOUT", so})
		}
		if se, _ := str(oldOutputs, "stderr"); se != "" {
			env = append(env, [2]string{"PULUMI_COMMAND_STDERR", se})
		}
	}
	return env
}

// failureText formats a failed command's output as the logging input allows.
func failureText(inputs resource.PropertyMap, stdout, stderr string) string {
	logging, ok := str(inputs, "logging")
	if !ok {
		logging = "stdoutAndStderr"
	}
	text := ""
	if logging == "stdout" || logging == "stdoutAndStderr" {
		text += stdout
	}
	if logging == "stderr" || logging == "stdoutAndStderr" {
		text += stderr
	}
	if len(text) > 4000 {
		text = "…" + text[len(text)-4000:]
	}
	return text
}
