package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// runLocalCommand follows upstream's local run (provider/pkg/provider/local/commandOutputs.go): interpreter
// (default /bin/sh -c), dir, the provider's environment plus `environment` and the previous output, stdin when
// non-empty, output streamed as `logging` allows, and on failure "<error>: running "<command>":\n<output>".
func runLocalCommand(ctx context.Context, op string, inputs, oldOutputs resource.PropertyMap, log engineLog) (resource.PropertyMap, error) {
	command, ok := commandFor(op, inputs)
	if !ok {
		if op == "delete" {
			return inputs, nil
		}
		return localOutputs(inputs, previousOutput(op, oldOutputs)), nil
	}
	args := stringList(inputs, "interpreter")
	if len(args) == 0 {
		args = []string{"/bin/sh", "-c"}
	}
	args = append(args, command)
	cmd := exec.CommandContext(ctx, args[0], args[1:]...) //nolint:gosec // runs the configured command by design
	if dir, ok := str(inputs, "dir"); ok {
		cmd.Dir = dir
	}
	cmd.Env = os.Environ()
	for _, kv := range append(stringMap(inputs, "environment"), previousOutputEnv(op, inputs, oldOutputs)...) {
		cmd.Env = append(cmd.Env, kv[0]+"="+kv[1])
	}
	if stdin, _ := str(inputs, "stdin"); stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	logging, _ := str(inputs, "logging")
	out := newOutputCapture(logging, log)
	cmd.Stdout, cmd.Stderr = out.stdoutWriter(), out.stderrWriter()
	err := cmd.Run()
	out.close()
	if err != nil {
		return nil, fmt.Errorf("%w: running %q:\n%s", err, command, out.combined.String())
	}
	return localOutputs(inputs, [2]string{strings.TrimSuffix(out.stdout.String(), "\n"), strings.TrimSuffix(out.stderr.String(), "\n")}), nil
}

// localOutputs: a local command has no connection; stdout/stderr follow the same infer rule as remote ones.
func localOutputs(inputs resource.PropertyMap, out [2]string) resource.PropertyMap {
	return commandOutputs(inputs, out)
}
