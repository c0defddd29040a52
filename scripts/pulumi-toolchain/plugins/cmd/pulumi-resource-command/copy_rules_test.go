package main

// CopyToRemote rules against a real sshd + sftp-server (umask sftpUmask); each test names the upstream
// function in provider/pkg/provider/remote/copyController.go it follows.

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/archive"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/asset"
)

func copyInputs(t *testing.T, s *testSSHD, source resource.PropertyValue, remotePath string) resource.PropertyMap {
	t.Helper()
	return resource.PropertyMap{"connection": s.connection(nil), "source": source, "remotePath": resource.NewStringProperty(remotePath)}
}

func fileSource(t *testing.T, p string) resource.PropertyValue {
	a, err := asset.FromPath(p)
	if err != nil {
		t.Fatal(err)
	}
	return resource.NewAssetProperty(a)
}

func dirSource(t *testing.T, p string) resource.PropertyValue {
	a, err := archive.FromPath(p)
	if err != nil {
		t.Fatal(err)
	}
	return resource.NewArchiveProperty(a)
}

func mode(t *testing.T, p string) os.FileMode {
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode().Perm()
}

func doCopy(t *testing.T, inputs resource.PropertyMap) {
	t.Helper()
	if err := copyToRemote(context.Background(), inputs, (&recordedLog{}).log()); err != nil {
		t.Fatal(err)
	}
}

// Upstream: sftpCopy, copyTextContent — missing parents are created (MkdirAll) for a text asset, a file's
// destination and a directory.
func TestCopyCreatesMissingParents(t *testing.T) {
	s := startSSHD(t, "ssh-ed25519")
	local, remote := t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(local, "f.txt"), "file", 0o644)
	if err := os.MkdirAll(filepath.Join(local, "tree", "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(local, "tree", "sub", "leaf"), "leaf", 0o644)
	text, _ := asset.FromText("text")

	doCopy(t, copyInputs(t, s, resource.NewAssetProperty(text), filepath.Join(remote, "a", "b", "text.txt")))
	doCopy(t, copyInputs(t, s, fileSource(t, filepath.Join(local, "f.txt")), filepath.Join(remote, "c", "d", "f.txt")))
	doCopy(t, copyInputs(t, s, dirSource(t, filepath.Join(local, "tree")), filepath.Join(remote, "e", "f")))
	for p, want := range map[string]string{"a/b/text.txt": "text", "c/d/f.txt": "file", "e/f/tree/sub/leaf": "leaf"} {
		got, err := os.ReadFile(filepath.Join(remote, p))
		if err != nil || string(got) != want {
			t.Fatalf("%s: %q %v", p, got, err)
		}
	}
}

// Upstream: copyFile (sftp Create = O_CREATE|O_TRUNC without attributes) and copyDir (sftp Mkdir) — an
// overwritten file keeps its mode, new files and directories get 0666/0777 minus the session's umask.
func TestCopyKeepsExistingModesAndAppliesTheUmaskToNewFiles(t *testing.T) {
	s := startSSHD(t, "ssh-ed25519")
	local, remote := t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(local, "secret.env"), "NEW=1\n", 0o644)
	writeFile(t, filepath.Join(local, "run.sh"), "echo hi\n", 0o755)
	dst := filepath.Join(remote, "secret.env")
	writeFile(t, dst, "OLD=1\n", 0o600)

	doCopy(t, copyInputs(t, s, fileSource(t, filepath.Join(local, "secret.env")), dst))
	if got, _ := os.ReadFile(dst); string(got) != "NEW=1\n" || mode(t, dst) != 0o600 {
		t.Fatalf("overwrite: content %q mode %o (the existing 0600 must stay)", got, mode(t, dst))
	}
	doCopy(t, copyInputs(t, s, fileSource(t, filepath.Join(local, "run.sh")), filepath.Join(remote, "new", "run.sh")))
	if m := mode(t, filepath.Join(remote, "new", "run.sh")); m != 0o666&^sftpUmask {
		t.Fatalf("a new file is 0666 minus the umask whatever the local mode, got %o", m)
	}
	if m := mode(t, filepath.Join(remote, "new")); m != 0o777&^sftpUmask {
		t.Fatalf("a new directory is 0777 minus the umask, got %o", m)
	}
}

// Upstream: copyDir walks with fs.WalkDir (symlinks are not directories) and copyFile opens with os.Open,
// which follows the link: the target's content lands as a regular file.
func TestCopyFollowsSymlinksInADirectory(t *testing.T) {
	s := startSSHD(t, "ssh-ed25519")
	local, remote := t.TempDir(), t.TempDir()
	target := filepath.Join(t.TempDir(), "target.conf")
	writeFile(t, target, "through the link", 0o644)
	if err := os.MkdirAll(filepath.Join(local, "conf"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, filepath.Join(local, "conf", "link.conf")); err != nil {
		t.Fatal(err)
	}
	doCopy(t, copyInputs(t, s, dirSource(t, filepath.Join(local, "conf")+"/"), remote))
	p := filepath.Join(remote, "link.conf")
	st, err := os.Lstat(p)
	if err != nil || !st.Mode().IsRegular() {
		t.Fatalf("the link must arrive as a regular file: %v %v", st, err)
	}
	if got, _ := os.ReadFile(p); string(got) != "through the link" {
		t.Fatalf("content %q", got)
	}
}

// Upstream: sftpCopy's table — a file into an existing directory lands under its base name; a directory onto
// an existing file fails; a text asset onto a directory fails.
func TestCopyDestinationRules(t *testing.T) {
	s := startSSHD(t, "ssh-ed25519")
	local, remote := t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(local, "f.txt"), "file", 0o644)
	doCopy(t, copyInputs(t, s, fileSource(t, filepath.Join(local, "f.txt")), remote))
	if got, _ := os.ReadFile(filepath.Join(remote, "f.txt")); string(got) != "file" {
		t.Fatalf("file into a directory: %q", got)
	}
	err := copyToRemote(context.Background(), copyInputs(t, s, dirSource(t, local), filepath.Join(remote, "f.txt")), (&recordedLog{}).log())
	if err == nil || !strings.Contains(err.Error(), "exists but is not a directory") {
		t.Fatalf("a directory onto a file must fail: %v", err)
	}
	text, _ := asset.FromText("x")
	err = copyToRemote(context.Background(), copyInputs(t, s, resource.NewAssetProperty(text), remote), (&recordedLog{}).log())
	if err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Fatalf("a text asset onto a directory must fail: %v", err)
	}
}
