package main

// A real OpenSSH sshd on loopback for the rule tests: stock AcceptEnv (LANG LC_*, as Debian and Ubuntu ship
// it), the real sftp-server with a known umask, host keys of the types a test asks for. It runs as this user
// (root in CI, as the engine suite needs anyway) and logs in as root into temporary directories only.

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"golang.org/x/crypto/ssh"
)

// sftpUmask is what the test sshd's sftp-server applies to new files and directories (`sftp-server -u`).
const sftpUmask = 0o027

type testSSHD struct {
	port       int
	clientKey  string // OpenSSH private key (PEM) accepted by the server
	clientPub  ssh.PublicKey
	hostKeys   map[string]string // key type ("ssh-ed25519", "ssh-rsa") -> authorized_keys line
	clientSign ssh.Signer
}

func startSSHD(t *testing.T, hostKeyTypes ...string) *testSSHD {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("these tests start a real sshd that logs in as root: run them as root (scripts/test-e2e.sh does)")
	}
	sshd, err := exec.LookPath("sshd")
	if err != nil {
		sshd = "/usr/sbin/sshd"
	}
	dir := t.TempDir()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := ssh.NewSignerFromKey(priv)
	sshPub, _ := ssh.NewPublicKey(pub)
	s := &testSSHD{clientKey: string(pem.EncodeToMemory(block)), clientPub: sshPub, clientSign: signer, hostKeys: map[string]string{}}
	writeFile(t, filepath.Join(dir, "authorized_keys"), string(ssh.MarshalAuthorizedKey(sshPub)), 0o600)
	var hostKeyLines []string
	for _, typ := range hostKeyTypes {
		name := map[string]string{"ssh-ed25519": "ed25519", "ssh-rsa": "rsa"}[typ]
		f := filepath.Join(dir, "host_"+name)
		if out, err := exec.Command("ssh-keygen", "-q", "-t", name, "-N", "", "-f", f).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v: %s", err, out)
		}
		line, _ := os.ReadFile(f + ".pub")
		s.hostKeys[typ] = strings.TrimSpace(string(line))
		hostKeyLines = append(hostKeyLines, "HostKey "+f)
	}
	s.port = freePort(t)
	cfg := fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
%s
PidFile %s/sshd.pid
AuthorizedKeysFile %s/authorized_keys
StrictModes no
UsePAM no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
AcceptEnv LANG LC_*
Subsystem sftp /usr/lib/openssh/sftp-server -u %04o
`, s.port, strings.Join(hostKeyLines, "\n"), dir, dir, sftpUmask)
	writeFile(t, filepath.Join(dir, "sshd_config"), cfg, 0o600)
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil { // sshd's privilege-separation directory
		t.Fatal(err)
	}
	cmd := exec.Command(sshd, "-D", "-e", "-f", filepath.Join(dir, "sshd_config"))
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", s.port))
		if err == nil {
			c.Close()
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("sshd did not listen on %d: %s", s.port, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// connection is the connection input a program would pass (the key as a secret, as components/ do).
func (s *testSSHD) connection(extra map[string]resource.PropertyValue) resource.PropertyValue {
	m := resource.PropertyMap{
		"host":           resource.NewStringProperty("127.0.0.1"),
		"port":           resource.NewNumberProperty(float64(s.port)),
		"user":           resource.NewStringProperty("root"),
		"privateKey":     resource.MakeSecret(resource.NewStringProperty(s.clientKey)),
		"dialErrorLimit": resource.NewNumberProperty(0),
	}
	for k, v := range extra {
		m[resource.PropertyKey(k)] = v
	}
	return resource.NewObjectProperty(m)
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func writeFile(t *testing.T, p, text string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(p, []byte(text), mode); err != nil {
		t.Fatal(err)
	}
}

// recordedLog is an engineLog that keeps what the provider would send to the engine.
type recordedLog struct {
	mu      sync.Mutex
	entries []logEntry
}

type logEntry struct {
	severity  pulumirpc.LogSeverity
	msg       string
	ephemeral bool
}

func (r *recordedLog) log() engineLog {
	return engineLog{send: func(sev pulumirpc.LogSeverity, msg string, eph bool) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.entries = append(r.entries, logEntry{sev, msg, eph})
	}}
}

func (r *recordedLog) find(sev pulumirpc.LogSeverity, ephemeral bool, substr string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.entries {
		if e.severity == sev && e.ephemeral == ephemeral && strings.Contains(e.msg, substr) {
			return true
		}
	}
	return false
}

// startKeyOnly returns a fresh ed25519 private key (PEM), for dials that never reach authentication.
func startKeyOnly(t *testing.T) string {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(block))
}

func mustParseRawKey(t *testing.T, pemText string) any {
	k, err := ssh.ParseRawPrivateKey([]byte(pemText))
	if err != nil {
		t.Fatal(err)
	}
	return k
}
