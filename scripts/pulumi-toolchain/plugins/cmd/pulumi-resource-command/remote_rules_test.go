package main

// Each test names the upstream (pulumi-command v1.2.1, pulumi-go-provider) file and function it follows, and
// runs against a real sshd (sshd_test.go) where the rule is about SSH.

import (
	"context"
	"net"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"golang.org/x/crypto/ssh/agent"
)

func command(conn resource.PropertyValue, create string, extra map[string]resource.PropertyValue) resource.PropertyMap {
	m := resource.PropertyMap{"connection": conn, "create": resource.NewStringProperty(create)}
	for k, v := range extra {
		m[resource.PropertyKey(k)] = v
	}
	return m
}

// Upstream: pulumi-go-provider infer/resource.go markSecret + ensureDefaultSecrets (an output is secret when the
// input of the same name is), remote/command.go CommandInputs (connection tagged provider:"secret").
func TestStdoutIsSecretOnlyThroughTheInputOfTheSameName(t *testing.T) {
	inputs := resource.PropertyMap{
		"connection": resource.NewObjectProperty(resource.PropertyMap{"host": resource.NewStringProperty("h")}),
		"create":     resource.MakeSecret(resource.NewStringProperty("cat")),
		"stdin":      resource.MakeSecret(resource.NewStringProperty("s3cret")),
	}
	outs := commandOutputs(inputs, [2]string{"s3cret", ""})
	if outs["stdout"].IsSecret() || outs["stderr"].IsSecret() {
		t.Fatal("stdout/stderr must stay plain although stdin and create are secret: no input is named stdout/stderr")
	}
	if !outs["stdin"].IsSecret() || !outs["create"].IsSecret() {
		t.Fatal("inputs mirrored as outputs keep their secrecy")
	}
	if !outs["connection"].IsSecret() {
		t.Fatal(`the connection is always secret (provider:"secret")`)
	}
}

// Upstream: remote/commandOutputs.go CommandOutputs.run — the error is "<err>: running %q:\n<combined output>"
// whatever `logging` says; `logging` only decides what streams into the engine log (util.LogOutput).
func TestFailureAlwaysCarriesCommandAndOutputWhateverLogging(t *testing.T) {
	s := startSSHD(t, "ssh-ed25519")
	const script = "echo to-out; echo to-err >&2; exit 3"
	for _, logging := range []string{"none", "stdout", "stderr", "stdoutAndStderr"} {
		var rec recordedLog
		_, err := runRemoteCommand(context.Background(), "create",
			command(s.connection(nil), script, map[string]resource.PropertyValue{"logging": resource.NewStringProperty(logging)}), nil, rec.log())
		if err == nil {
			t.Fatalf("%s: exit 3 must fail", logging)
		}
		want := `Process exited with status 3: running "` + script + `":`
		if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "to-out\n") || !strings.Contains(err.Error(), "to-err\n") {
			t.Fatalf("%s: error %q lacks %q or the output", logging, err, want)
		}
		streamedOut := rec.find(pulumirpc.LogSeverity_INFO, true, "to-out")
		streamedErr := rec.find(pulumirpc.LogSeverity_INFO, true, "to-err")
		if streamedOut != (logging == "stdout" || logging == "stdoutAndStderr") || streamedErr != (logging == "stderr" || logging == "stdoutAndStderr") {
			t.Fatalf("%s: streamed stdout=%v stderr=%v", logging, streamedOut, streamedErr)
		}
	}
}

// Upstream: remote/commandOutputs.go CommandOutputs.run and logAndWrapSetenvErr — a refused `environment`
// entry logs an error and fails the resource; a refused PULUMI_COMMAND_STDOUT only warns.
func TestRefusedEnvironmentFailsTheResourceButPreviousOutputOnlyWarns(t *testing.T) {
	s := startSSHD(t, "ssh-ed25519")
	var rec recordedLog
	_, err := runRemoteCommand(context.Background(), "create", command(s.connection(nil), "echo ran",
		map[string]resource.PropertyValue{"environment": resource.NewObjectProperty(resource.PropertyMap{"FUD_VALUE": resource.NewStringProperty("x")})}), nil, rec.log())
	if err == nil || !strings.Contains(err.Error(), `could not set environment variable "FUD_VALUE"`) {
		t.Fatalf("a refused environment variable must fail the resource, got %v", err)
	}
	if !rec.find(pulumirpc.LogSeverity_ERROR, false, "Unable to set 'FUD_VALUE'") {
		t.Fatal("the refusal is logged as an error")
	}

	accepted := command(s.connection(nil), `echo "$LC_FUD"`, map[string]resource.PropertyValue{
		"environment": resource.NewObjectProperty(resource.PropertyMap{"LC_FUD": resource.NewStringProperty("accepted")})})
	outs, err := runRemoteCommand(context.Background(), "create", accepted, nil, rec.log())
	if err != nil || outs["stdout"].StringValue() != "accepted" {
		t.Fatalf("an AcceptEnv name reaches the command: %v %v", outs["stdout"], err)
	}

	var rec2 recordedLog
	olds := resource.PropertyMap{"stdout": resource.NewStringProperty("previous")}
	outs, err = runRemoteCommand(context.Background(), "update", command(s.connection(nil), `echo "${PULUMI_COMMAND_STDOUT:-unset}"`, nil), olds, rec2.log())
	if err != nil || outs["stdout"].StringValue() != "unset" {
		t.Fatalf("update must run with PULUMI_COMMAND_STDOUT refused: %v %v", outs["stdout"], err)
	}
	if !rec2.find(pulumirpc.LogSeverity_WARNING, false, "Unable to set 'PULUMI_COMMAND_STDOUT'") {
		t.Fatal("the refused previous output is a warning")
	}
}

// Upstream: remote/connection.go dialWithRetry and reachedDialingErrorLimit — dialErrorLimit+1 dials, then
// "after <limit> failed attempts: <last error>"; one "Dial n/limit failed: retrying" status per retry.
func TestDialRetriesDialErrorLimitPlusOneTimes(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var accepted atomic.Int32
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close() // not an SSH server: each dial fails in the handshake
		}
	}()
	conn := resource.NewObjectProperty(resource.PropertyMap{
		"host": resource.NewStringProperty("127.0.0.1"), "port": resource.NewNumberProperty(float64(l.Addr().(*net.TCPAddr).Port)),
		"privateKey": resource.NewStringProperty(startKeyOnly(t)), "dialErrorLimit": resource.NewNumberProperty(2), "perDialTimeout": resource.NewNumberProperty(2),
	})
	var rec recordedLog
	start := time.Now()
	_, err = dial(context.Background(), resource.PropertyMap{"connection": conn}, rec.log())
	if err == nil || !strings.HasPrefix(err.Error(), "after 2 failed attempts: ") {
		t.Fatalf("want the upstream message, got %v", err)
	}
	if n := accepted.Load(); n != 3 {
		t.Fatalf("dialErrorLimit 2 must dial 3 times, dialled %d", n)
	}
	if !rec.find(pulumirpc.LogSeverity_INFO, true, "Dial 1/2 failed: retrying") || !rec.find(pulumirpc.LogSeverity_INFO, true, "Dial 2/2 failed: retrying") {
		t.Fatalf("retry statuses: %+v", rec.entries)
	}
	if elapsed := time.Since(start); elapsed < 250*time.Millisecond {
		t.Fatalf("retry.Until backs off 100 ms then 150 ms; took %v", elapsed)
	}
}

// Upstream: remote/connection.go connectionBase.SShConfig — SSH_AUTH_SOCK (or agentSocketPath) is used when
// set, and a socket that cannot be opened fails the connection before any dial.
func TestAgentSocketIsUsedWhenSetAndFailsWhenUnusable(t *testing.T) {
	s := startSSHD(t, "ssh-ed25519")
	keyring := agent.NewKeyring()
	if err := keyring.Add(agent.AddedKey{PrivateKey: mustParseRawKey(t, s.clientKey)}); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "agent.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { _ = agent.ServeAgent(keyring, c); c.Close() }()
		}
	}()
	noKey := s.connection(nil).ObjectValue().Copy()
	delete(noKey, "privateKey")
	t.Setenv(sshAgentSocketEnv, sock)
	outs, err := runRemoteCommand(context.Background(), "create", command(resource.NewObjectProperty(noKey), "echo via-agent", nil), nil, (&recordedLog{}).log())
	if err != nil || outs["stdout"].StringValue() != "via-agent" {
		t.Fatalf("the agent from SSH_AUTH_SOCK must authenticate: %v", err)
	}
	t.Setenv(sshAgentSocketEnv, filepath.Join(t.TempDir(), "missing.sock"))
	_, err = runRemoteCommand(context.Background(), "create", command(s.connection(nil), "true", nil), nil, (&recordedLog{}).log())
	if err == nil || !strings.Contains(err.Error(), "missing.sock") {
		t.Fatalf("an unusable SSH_AUTH_SOCK must fail the connection even with a private key: %v", err)
	}
}

// Upstream: remote/connection.go connectionBase.SShConfig — a pinned hostKey is the only key accepted and
// HostKeyAlgorithms is [the key's type]; for RSA that is SHA-1 "ssh-rsa", which OpenSSH ≥ 8.8 does not offer.
func TestHostKeyPinsTheKeyAndItsAlgorithm(t *testing.T) {
	s := startSSHD(t, "ssh-ed25519", "ssh-rsa")
	run := func(hostKey string) error {
		conn := s.connection(map[string]resource.PropertyValue{"hostKey": resource.NewStringProperty(hostKey)})
		_, err := runRemoteCommand(context.Background(), "create", command(conn, "true", nil), nil, (&recordedLog{}).log())
		return err
	}
	if err := run(s.hostKeys["ssh-ed25519"]); err != nil {
		t.Fatalf("the server's own ed25519 key must be accepted: %v", err)
	}
	if err := run(s.hostKeys["ssh-rsa"]); err == nil || !strings.Contains(err.Error(), "no common algorithm for host key") {
		t.Fatalf("an RSA hostKey offers only ssh-rsa, which this sshd refuses: %v", err)
	}
	other := startSSHD(t, "ssh-ed25519")
	if err := run(other.hostKeys["ssh-ed25519"]); err == nil || !strings.Contains(err.Error(), "host key mismatch") {
		t.Fatalf("another host's key must be refused: %v", err)
	}
}
