package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

func runLocalCommand(ctx context.Context, op string, inputs, oldOutputs resource.PropertyMap) (resource.PropertyMap, error) {
	command, ok := commandFor(op, inputs)
	if !ok || command == "" {
		if op == "delete" {
			return inputs, nil
		}
		so, se := "", ""
		if oldOutputs != nil {
			so, _ = str(oldOutputs, "stdout")
			se, _ = str(oldOutputs, "stderr")
		}
		return commandOutputs(inputs, so, se), nil
	}
	interpreter := stringList(inputs, "interpreter")
	if len(interpreter) == 0 {
		interpreter = []string{"/bin/sh", "-c"}
	}
	args := append(append([]string{}, interpreter[1:]...), command)
	cmd := exec.CommandContext(ctx, interpreter[0], args...) //nolint:gosec // runs the configured command by design
	if dir, ok := str(inputs, "dir"); ok && dir != "" {
		cmd.Dir = dir
	}
	cmd.Env = os.Environ()
	for _, kv := range commandEnv(op, inputs, oldOutputs) {
		cmd.Env = append(cmd.Env, kv[0]+"="+kv[1])
	}
	if stdin, ok := str(inputs, "stdin"); ok {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		return nil, fmt.Errorf("exit status %d: running %s:\n%s", exitErr.ExitCode(),
			describeCommand(inputs, op, command), failureText(inputs, stdout.String(), stderr.String()))
	}
	if err != nil {
		return nil, fmt.Errorf("running %s: %w", describeCommand(inputs, op, command), err)
	}
	return commandOutputs(inputs, strings.TrimSuffix(stdout.String(), "\n"), strings.TrimSuffix(stderr.String(), "\n")), nil
}
