package main

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/archive"
	"golang.org/x/crypto/ssh"
)

// copyToRemote copies an asset (one file) or an archive (a directory tree) to remotePath, following the upstream
// rules: an existing remote directory receives the source inside it under the source's base name; otherwise
// remotePath itself is created (its parent must exist). Files travel as one tar stream over a single SSH session.
func copyToRemote(ctx context.Context, inputs resource.PropertyMap) (resource.PropertyMap, error) {
	remotePath, ok := str(inputs, "remotePath")
	if !ok || remotePath == "" {
		return nil, errors.New("remotePath: missing or unknown")
	}
	source := unsecret(inputs["source"])
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	var script string
	switch {
	case source.IsAsset():
		a := source.AssetValue()
		data, err := a.Bytes()
		if err != nil {
			return nil, fmt.Errorf("source: reading asset: %w", err)
		}
		mode := int64(0o644)
		base := "file"
		if a.IsPath() {
			base = filepath.Base(a.Path)
			if st, err := os.Stat(a.Path); err == nil {
				mode = int64(st.Mode().Perm())
			}
		}
		if err := writeTarFile(tw, "file", data, mode); err != nil {
			return nil, err
		}
		// Extract to a temporary directory beside the target, then move the file into place atomically.
		script = fmt.Sprintf(`set -eu
p=%s
if [ -d "$p" ]; then p="$p/"%s; fi
parent=$(dirname "$p")
[ -d "$parent" ] || { echo "copy to $p: directory $parent does not exist" >&2; exit 1; }
tmp=$(mktemp -d "$parent/.pulumi-copy.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
tar -x -o -f - -C "$tmp"
mv -f "$tmp/file" "$p"
`, shellQuote(remotePath), shellQuote(base))
	case source.IsArchive():
		a := source.ArchiveValue()
		base := ""
		if a.IsPath() {
			base = filepath.Base(filepath.Clean(a.Path))
		}
		if err := writeArchive(tw, a); err != nil {
			return nil, fmt.Errorf("source: %w", err)
		}
		script = fmt.Sprintf(`set -eu
p=%s
base=%s
if [ -d "$p" ] && [ -n "$base" ]; then p="$p/$base"; fi
parent=$(dirname "$p")
[ -d "$parent" ] || { echo "copy to $p: directory $parent does not exist" >&2; exit 1; }
mkdir -p "$p"
tar -x -o -f - -C "$p"
`, shellQuote(remotePath), shellQuote(base))
	default:
		return nil, errors.New("source: must be an asset or an archive")
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	client, err := dial(ctx, inputs)
	if err != nil {
		return nil, err
	}
	defer client.Close()
	if err := runWithStdin(ctx, client, script, &buf); err != nil {
		return nil, fmt.Errorf("copying to %s: %w", remotePath, err)
	}
	return inputs.Copy(), nil
}

func writeTarFile(tw *tar.Writer, name string, data []byte, mode int64) error {
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: mode, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	_, err := tw.Write(data)
	return err
}

func writeArchive(tw *tar.Writer, a *archive.Archive) error {
	if a.IsPath() {
		if st, err := os.Stat(a.Path); err == nil && st.IsDir() {
			// Walk the directory ourselves so file modes (executable scripts) survive the copy.
			return filepath.WalkDir(a.Path, func(p string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				rel, err := filepath.Rel(a.Path, p)
				if err != nil || rel == "." {
					return err
				}
				info, err := d.Info()
				if err != nil {
					return err
				}
				name := filepath.ToSlash(rel)
				if d.IsDir() {
					return tw.WriteHeader(&tar.Header{Name: name + "/", Mode: int64(info.Mode().Perm()), Typeflag: tar.TypeDir})
				}
				if !info.Mode().IsRegular() {
					return nil
				}
				data, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				return writeTarFile(tw, name, data, int64(info.Mode().Perm()))
			})
		}
	}
	r, err := a.Open()
	if err != nil {
		return err
	}
	defer r.Close()
	for {
		name, blob, err := r.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		data, err := io.ReadAll(blob)
		blob.Close()
		if err != nil {
			return err
		}
		clean := path.Clean("/" + strings.ReplaceAll(name, "\\", "/"))[1:]
		if err := writeTarFile(tw, clean, data, 0o644); err != nil {
			return err
		}
	}
}

func runWithStdin(ctx context.Context, client *ssh.Client, script string, stdin io.Reader) error {
	session, err := client.NewSession()
	if err != nil {
		return err
	}
	defer session.Close()
	var stderr bytes.Buffer
	session.Stdin, session.Stderr = stdin, &stderr
	done := make(chan error, 1)
	go func() { done <- session.Run("sh -c " + shellQuote(script)) }()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case err = <-done:
	}
	if err != nil {
		return fmt.Errorf("%w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return nil
}
