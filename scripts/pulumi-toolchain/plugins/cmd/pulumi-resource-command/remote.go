package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"golang.org/x/crypto/ssh"
)

// dial opens an SSH connection from the connection input, retrying like the upstream provider
// (dialErrorLimit attempts, default 10; perDialTimeout seconds each, default 15).
func dial(ctx context.Context, inputs resource.PropertyMap) (*ssh.Client, error) {
	conn := obj(inputs, "connection")
	if conn == nil {
		return nil, errors.New("connection: missing or unknown")
	}
	host, _ := str(conn, "host")
	port := int(num(conn, "port", 22))
	user, ok := str(conn, "user")
	if !ok || user == "" {
		user = "root"
	}
	var auth []ssh.AuthMethod
	if key, ok := str(conn, "privateKey"); ok && key != "" {
		var signer ssh.Signer
		var err error
		if pass, ok := str(conn, "privateKeyPassword"); ok && pass != "" {
			signer, err = ssh.ParsePrivateKeyWithPassphrase([]byte(key), []byte(pass))
		} else {
			signer, err = ssh.ParsePrivateKey([]byte(key))
		}
		if err != nil {
			return nil, fmt.Errorf("connection.privateKey: %w", err)
		}
		auth = append(auth, ssh.PublicKeys(signer))
	}
	if pass, ok := str(conn, "password"); ok && pass != "" {
		auth = append(auth, ssh.Password(pass), ssh.KeyboardInteractive(
			func(_, _ string, questions []string, _ []bool) ([]string, error) {
				answers := make([]string, len(questions))
				for i := range answers {
					answers[i] = pass
				}
				return answers, nil
			}))
	}
	if len(auth) == 0 {
		return nil, errors.New("connection: one of privateKey or password is required")
	}
	limit := int(num(conn, "dialErrorLimit", 10))
	perDial := time.Duration(num(conn, "perDialTimeout", 15)) * time.Second
	cfg := &ssh.ClientConfig{
		User: user,
		Auth: auth,
		// As upstream: without connection.hostKey the host key is not verified.
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), //nolint:gosec
		Timeout:         perDial,
	}
	if hostKey, ok := str(conn, "hostKey"); ok && strings.TrimSpace(hostKey) != "" {
		pk, _, _, _, err := ssh.ParseAuthorizedKey([]byte(hostKey))
		if err != nil {
			return nil, fmt.Errorf("connection.hostKey: not an OpenSSH public key line: %w", err)
		}
		cfg.HostKeyCallback = ssh.FixedHostKey(pk)
		cfg.HostKeyAlgorithms = hostKeyAlgorithms(pk.Type())
	}
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	var lastErr error
	for attempt := 1; limit < 0 || attempt <= limit; attempt++ {
		client, err := ssh.Dial("tcp", addr, cfg)
		if err == nil {
			return client, nil
		}
		lastErr = err
		wait := time.Duration(attempt) * time.Second
		if wait > 5*time.Second {
			wait = 5 * time.Second
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
	}
	return nil, fmt.Errorf("dial %s failed after %d attempts: %w", addr, limit, lastErr)
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'"'"'`) + "'" }

// runSSH runs one command in a new session. As upstream, environment variables travel only as SSH "env"
// requests: a server that does not accept them (sshd's AcceptEnv; Debian and Ubuntu accept only LANG and LC_*)
// leaves them unset, and warn reports each refusal. Programs must not rely on `environment` for remote commands.
func runSSH(ctx context.Context, client *ssh.Client, command string, env [][2]string, stdin string, warn func(string)) (string, string, int, error) {
	session, err := client.NewSession()
	if err != nil {
		return "", "", -1, err
	}
	defer session.Close()
	for _, kv := range env {
		if err := session.Setenv(kv[0], kv[1]); err != nil {
			warn(fmt.Sprintf("Unable to set '%s': the SSH server refused it (sshd only accepts the names listed in "+
				"its AcceptEnv setting), so the command runs without it. Pass such values on stdin or in the command.", kv[0]))
		}
	}
	var stdout, stderr bytes.Buffer
	session.Stdout, session.Stderr = &stdout, &stderr
	if stdin != "" {
		session.Stdin = strings.NewReader(stdin)
	}
	done := make(chan error, 1)
	go func() { done <- session.Run(command) }()
	select {
	case <-ctx.Done():
		_ = session.Signal(ssh.SIGTERM)
		session.Close()
		return stdout.String(), stderr.String(), -1, ctx.Err()
	case err = <-done:
	}
	var exitErr *ssh.ExitError
	if errors.As(err, &exitErr) {
		return stdout.String(), stderr.String(), exitErr.ExitStatus(), nil
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return stdout.String(), stderr.String(), -1, err
	}
	return stdout.String(), stderr.String(), 0, nil
}

func describeCommand(inputs resource.PropertyMap, op, command string) string {
	key := resource.PropertyKey(op)
	if op == "update" && !has(inputs, "update") {
		key = "create"
	}
	if v, ok := inputs[key]; ok && v.ContainsSecrets() {
		return op + " command ([secret])"
	}
	if len(command) > 200 {
		command = command[:200] + "…"
	}
	return fmt.Sprintf("%s command %q", op, command)
}

func runRemoteCommand(ctx context.Context, op string, inputs, oldOutputs resource.PropertyMap, warn func(string)) (resource.PropertyMap, error) {
	command, ok := commandFor(op, inputs)
	if !ok || command == "" {
		if op == "delete" {
			return inputs, nil
		}
		// No command for this operation: record the inputs, keep previous output.
		so, se := "", ""
		if oldOutputs != nil {
			so, _ = str(oldOutputs, "stdout")
			se, _ = str(oldOutputs, "stderr")
		}
		return commandOutputs(inputs, so, se), nil
	}
	client, err := dial(ctx, inputs)
	if err != nil {
		return nil, err
	}
	defer client.Close()
	stdin, _ := str(inputs, "stdin")
	stdout, stderr, code, err := runSSH(ctx, client, command, commandEnv(op, inputs, oldOutputs), stdin, warn)
	if err != nil {
		return nil, fmt.Errorf("running %s: %w", describeCommand(inputs, op, command), err)
	}
	if code != 0 {
		return nil, fmt.Errorf("Process exited with status %d: running %s:\n%s",
			code, describeCommand(inputs, op, command), failureText(inputs, stdout, stderr))
	}
	return commandOutputs(inputs, strings.TrimSuffix(stdout, "\n"), strings.TrimSuffix(stderr, "\n")), nil
}

// hostKeyAlgorithms asks the server for the pinned key's type (an RSA key may be offered under SHA-2 names).
func hostKeyAlgorithms(keyType string) []string {
	if keyType == ssh.KeyAlgoRSA {
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	}
	return []string{keyType}
}
