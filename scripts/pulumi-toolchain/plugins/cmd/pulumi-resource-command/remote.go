package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/retry"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// Upstream defaults (provider/pkg/provider/remote/connection.go, Connection.Annotate).
const (
	dialErrorDefault   = 10
	dialErrorUnlimited = -1
	perDialDefault     = 15
	sshAgentSocketEnv  = "SSH_AUTH_SOCK"
)

// sshConfig builds the client configuration as upstream's connectionBase.SShConfig does: private key (with its
// password), then password + keyboard-interactive, then the SSH agent (connection.agentSocketPath, else
// $SSH_AUTH_SOCK) — an agent socket that cannot be opened fails here, before any dial. A pinned hostKey is the
// only key accepted and limits the negotiated host-key algorithm to that key's type (for an RSA key that is the
// SHA-1 "ssh-rsa", which OpenSSH ≥ 8.8 servers no longer offer).
func sshConfig(conn resource.PropertyMap) (*ssh.ClientConfig, error) {
	user, ok := str(conn, "user")
	if !ok {
		user = "root"
	}
	cfg := &ssh.ClientConfig{
		User:            user,
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), //nolint:gosec // as upstream without connection.hostKey
		Timeout:         time.Duration(num(conn, "perDialTimeout", perDialDefault)) * time.Second,
	}
	if key, ok := str(conn, "privateKey"); ok {
		var signer ssh.Signer
		var err error
		if pass, ok := str(conn, "privateKeyPassword"); ok {
			signer, err = ssh.ParsePrivateKeyWithPassphrase([]byte(key), []byte(pass))
		} else {
			signer, err = ssh.ParsePrivateKey([]byte(key))
		}
		if err != nil {
			return nil, err
		}
		cfg.Auth = append(cfg.Auth, ssh.PublicKeys(signer))
	}
	if pass, ok := str(conn, "password"); ok {
		cfg.Auth = append(cfg.Auth, ssh.Password(pass), ssh.KeyboardInteractive(
			func(_, _ string, questions []string, _ []bool) ([]string, error) {
				answers := make([]string, len(questions))
				for i := range answers {
					answers[i] = pass
				}
				return answers, nil
			}))
	}
	socket, ok := str(conn, "agentSocketPath")
	if !ok {
		socket = os.Getenv(sshAgentSocketEnv)
	}
	if socket != "" {
		c, err := net.Dial("unix", socket)
		if err != nil {
			return nil, err
		}
		cfg.Auth = append(cfg.Auth, ssh.PublicKeysCallback(agent.NewClient(c).Signers))
	}
	if hostKey, ok := str(conn, "hostKey"); ok {
		pk, _, _, _, err := ssh.ParseAuthorizedKey([]byte(hostKey))
		if err != nil {
			return nil, fmt.Errorf("failed to parse host key: %w", err)
		}
		cfg.HostKeyCallback = ssh.FixedHostKey(pk)
		cfg.HostKeyAlgorithms = []string{pk.Type()}
	}
	return cfg, nil
}

// dialWithRetry follows upstream's dialWithRetry (remote/connection.go): retry.Until's backoff (100 ms × 1.5,
// at most 5 s), one status line per failed try, and after dialErrorLimit+1 failed dials the error
// "after <dialErrorLimit> failed attempts: <last error>" (-1 retries forever).
func dialWithRetry[T any](ctx context.Context, msg string, maxAttempts int, status func(string), f func() (T, error)) (T, error) {
	var userErr error
	ok, data, err := retry.Until(ctx, retry.Acceptor{
		Accept: func(try int, _ time.Duration) (bool, any, error) {
			var result T
			result, userErr = f()
			if userErr == nil {
				return true, result, nil
			}
			dials := try + 1
			if maxAttempts > dialErrorUnlimited && dials > maxAttempts {
				return true, nil, fmt.Errorf("after %d failed attempts: %w", try, userErr)
			}
			limit := "inf"
			if maxAttempts != dialErrorUnlimited {
				limit = fmt.Sprint(maxAttempts)
			}
			status(fmt.Sprintf("%s %d/%s failed: retrying", msg, dials, limit))
			return false, nil, nil
		},
	})
	if ok && err == nil {
		return data.(T), nil
	}
	var zero T
	if err == nil {
		err = ctx.Err()
	}
	return zero, err
}

// dial opens the SSH connection of a resource's connection input (upstream Connection.Dial, without proxy).
func dial(ctx context.Context, inputs resource.PropertyMap, log engineLog) (*ssh.Client, error) {
	conn := obj(inputs, "connection")
	if conn == nil {
		return nil, errors.New("connection: missing or unknown")
	}
	if obj(conn, "proxy") != nil {
		return nil, errors.New("connection.proxy: not implemented by this stand-in (docs/engine-tests.md)")
	}
	cfg, err := sshConfig(conn)
	if err != nil {
		return nil, err
	}
	host, _ := str(conn, "host")
	endpoint := net.JoinHostPort(host, fmt.Sprintf("%d", int(num(conn, "port", 22))))
	return dialWithRetry(ctx, "Dial", int(num(conn, "dialErrorLimit", dialErrorDefault)), log.status,
		func() (*ssh.Client, error) { return ssh.Dial("tcp", endpoint, cfg) })
}

// setenvMessage is upstream's logAndWrapSetenvErr text (remote/commandOutputs.go).
func setenvMessage(key string) string {
	return fmt.Sprintf(`Unable to set '%s'. This only works if your SSH server is configured to accept
	these variables via AcceptEnv. Alternatively, if a Bash-like shell runs the command on the remote host, you could
	prefix the command itself with the variables in the form 'VAR=value command'`, key)
}

// runRemote runs one command as upstream's CommandOutputs.run (remote/commandOutputs.go):
//   - each `environment` entry is an SSH "env" request; a refused one (sshd's AcceptEnv) logs an error and fails
//     the resource with `could not set environment variable "K"`;
//   - PULUMI_COMMAND_STDOUT/STDERR (non-empty previous output, addPreviousOutputInEnv) are optimistic: a refusal
//     is a warning and the command runs;
//   - stdin only when non-empty; output streams into the engine log line by line as `logging` allows;
//   - a failure always returns "<error>: running "<command>":\n<stdout and stderr as they came>", whatever
//     `logging` says.
func runRemote(ctx context.Context, client *ssh.Client, command string, env, prevEnv [][2]string, stdin string, logging string, log engineLog) (string, string, error) {
	session, err := client.NewSession()
	if err != nil {
		return "", "", err
	}
	defer session.Close()
	for _, kv := range env {
		if err := session.Setenv(kv[0], kv[1]); err != nil {
			log.error(setenvMessage(kv[0]))
			return "", "", fmt.Errorf("could not set environment variable %q: %w", kv[0], err)
		}
	}
	for _, kv := range prevEnv {
		if err := session.Setenv(kv[0], kv[1]); err != nil {
			log.warn(setenvMessage(kv[0]))
		}
	}
	if stdin != "" {
		session.Stdin = strings.NewReader(stdin)
	}
	out := newOutputCapture(logging, log)
	session.Stdout, session.Stderr = out.stdoutWriter(), out.stderrWriter()
	done := make(chan error, 1)
	go func() { done <- session.Run(command) }()
	select {
	case <-ctx.Done():
		_ = session.Signal(ssh.SIGTERM)
		session.Close()
		err = ctx.Err()
	case err = <-done:
	}
	out.close()
	if err != nil {
		return "", "", fmt.Errorf("%w: running %q:\n%s", err, command, out.combined.String())
	}
	return strings.TrimSuffix(out.stdout.String(), "\n"), strings.TrimSuffix(out.stderr.String(), "\n"), nil
}

func runRemoteCommand(ctx context.Context, op string, inputs, oldOutputs resource.PropertyMap, log engineLog) (resource.PropertyMap, error) {
	command, ok := commandFor(op, inputs)
	if !ok {
		// Upstream: no command for this operation runs nothing and keeps the previous output.
		if op == "delete" {
			return inputs, nil
		}
		return commandOutputs(inputs, previousOutput(op, oldOutputs)), nil
	}
	client, err := dial(ctx, inputs, log)
	if err != nil {
		return nil, err
	}
	defer client.Close()
	stdin, _ := str(inputs, "stdin")
	logging, _ := str(inputs, "logging")
	stdout, stderr, err := runRemote(ctx, client, command, stringMap(inputs, "environment"), previousOutputEnv(op, inputs, oldOutputs), stdin, logging, log)
	if err != nil {
		return nil, err
	}
	return commandOutputs(inputs, [2]string{stdout, stderr}), nil
}

// outputCapture keeps stdout, stderr and both interleaved, and streams lines to the engine log as upstream's
// util.LogOutput does (one ephemeral info status per line) for the streams `logging` names.
type outputCapture struct {
	mu                       sync.Mutex
	stdout, stderr, combined bytes.Buffer
	logStdout, logStderr     bool
	pw                       *io.PipeWriter
	done                     chan struct{}
}

func newOutputCapture(logging string, log engineLog) *outputCapture {
	o := &outputCapture{done: make(chan struct{})}
	// remote/logging.go ShouldLogStdout/ShouldLogStderr: unset means both.
	o.logStdout = logging == "" || logging == "stdout" || logging == "stdoutAndStderr"
	o.logStderr = logging == "" || logging == "stderr" || logging == "stdoutAndStderr"
	pr, pw := io.Pipe()
	o.pw = pw
	go func() {
		defer close(o.done)
		lines := bufio.NewScanner(pr)
		for lines.Scan() {
			log.status(lines.Text())
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	return o
}

func (o *outputCapture) stdoutWriter() io.Writer {
	w := []io.Writer{&o.stdout, &o.combined}
	if o.logStdout {
		w = append(w, o.pw)
	}
	return &lockedWriter{mu: &o.mu, w: io.MultiWriter(w...)}
}

func (o *outputCapture) stderrWriter() io.Writer {
	w := []io.Writer{&o.stderr, &o.combined}
	if o.logStderr {
		w = append(w, o.pw)
	}
	return &lockedWriter{mu: &o.mu, w: io.MultiWriter(w...)}
}

func (o *outputCapture) close() {
	_ = o.pw.Close()
	<-o.done
}
