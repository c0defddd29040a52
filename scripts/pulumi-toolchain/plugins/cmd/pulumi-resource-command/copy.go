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
	"path/filepath"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"golang.org/x/crypto/ssh"
)

// checkCopySource mirrors the upstream Check: the source must be a FileAsset, a StringAsset or a FileArchive
// (an AssetArchive, a RemoteAsset or a RemoteArchive is refused).
func checkCopySource(news resource.PropertyMap) []plugin.CheckFailure {
	v, ok := news["source"]
	if !ok || v.IsNull() {
		return []plugin.CheckFailure{{Property: "asset", Reason: "either asset or archive must be set"}}
	}
	v = unsecret(v)
	switch {
	case v.IsComputed() || v.IsOutput():
		return nil
	case v.IsAsset():
		if a := v.AssetValue(); !a.IsPath() && !a.IsText() {
			return []plugin.CheckFailure{{Property: "asset", Reason: "asset must be a path-based file asset or a text asset"}}
		}
	case v.IsArchive():
		if !v.ArchiveValue().IsPath() {
			return []plugin.CheckFailure{{Property: "archive", Reason: "archive must be a path to a file or directory"}}
		}
	default:
		return []plugin.CheckFailure{{Property: "asset", Reason: "either asset or archive must be set"}}
	}
	return nil
}

// copyToRemote follows the upstream copy rules (SFTP there, one SSH session with a shell script here):
//
//	source        | remotePath is a dir  | does not exist           | is a file
//	text asset    | error                | remotePath               | overwritten
//	file          | remotePath/<base>    | remotePath               | overwritten
//	dir           | remotePath/<base>/…  | remotePath/<base>/…      | error
//	dir/ (slash)  | remotePath/…         | remotePath/…             | error
//
// Only the last path element is created. Files are written like SFTP creates them (new files 0644 under the usual
// umask, existing files keep their mode); directories 0755. Archive files (.tgz) are copied as-is, not unpacked.
func copyToRemote(ctx context.Context, inputs resource.PropertyMap) (resource.PropertyMap, error) {
	remotePath, ok := str(inputs, "remotePath")
	if !ok || remotePath == "" {
		return nil, errors.New("remotePath: missing or unknown")
	}
	source := unsecret(inputs["source"])
	var script string
	var stdin io.Reader
	sourcePath := ""
	switch {
	case source.IsAsset() && source.AssetValue().IsText():
		text, _ := source.AssetValue().GetText()
		script = fmt.Sprintf(`set -eu
p=%s
if [ -d "$p" ]; then echo "remote path $p is a directory; when using a text asset, remotePath must be a file path" >&2; exit 1; fi
cat > "$p"
`, shellQuote(remotePath))
		stdin = strings.NewReader(text)
	case source.IsAsset() && source.AssetValue().IsPath():
		sourcePath = source.AssetValue().Path
	case source.IsArchive() && source.ArchiveValue().IsPath():
		sourcePath = source.ArchiveValue().Path
	default:
		return nil, errors.New("source: must be a FileAsset, a StringAsset or a FileArchive")
	}
	if sourcePath != "" {
		st, err := os.Stat(sourcePath)
		if err != nil {
			return nil, fmt.Errorf("source: %w", err)
		}
		base := filepath.Base(filepath.Clean(sourcePath))
		if !st.IsDir() {
			data, err := os.ReadFile(sourcePath)
			if err != nil {
				return nil, fmt.Errorf("source: %w", err)
			}
			script = fmt.Sprintf(`set -eu
p=%s
if [ -d "$p" ]; then p="$p/"%s; fi
cat > "$p" || { echo "failed to create remote file $p" >&2; exit 1; }
`, shellQuote(remotePath), shellQuote(base))
			stdin = bytes.NewReader(data)
		} else {
			var buf bytes.Buffer
			if err := tarDirectory(&buf, sourcePath); err != nil {
				return nil, fmt.Errorf("source: %w", err)
			}
			nested := "1"
			if strings.HasSuffix(sourcePath, "/") {
				nested = "0"
			}
			script = fmt.Sprintf(`set -eu
p=%s
mkdir_last() {
  if [ -e "$1" ] && [ ! -d "$1" ]; then echo "remote path $1 exists but is not a directory" >&2; exit 1; fi
  [ -d "$1" ] || mkdir -m 0755 "$1" || { echo "failed to create remote directory $1" >&2; exit 1; }
}
mkdir_last "$p"
if [ %s = 1 ]; then p="$p/"%s; mkdir_last "$p"; fi
tar -x -o -f - -C "$p"
`, shellQuote(remotePath), nested, shellQuote(base))
			stdin = &buf
		}
	}
	client, err := dial(ctx, inputs)
	if err != nil {
		return nil, err
	}
	defer client.Close()
	if err := runWithStdin(ctx, client, script, stdin); err != nil {
		return nil, fmt.Errorf("copying to %s: %w", remotePath, err)
	}
	return inputs.Copy(), nil
}

// tarDirectory writes the tree under dir (not dir itself) as a tar stream: directories 0755, files 0644.
func tarDirectory(w io.Writer, dir string) error {
	tw := tar.NewWriter(w)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." {
			return err
		}
		name := filepath.ToSlash(rel)
		if d.IsDir() {
			return tw.WriteHeader(&tar.Header{Name: name + "/", Mode: 0o755, Typeflag: tar.TypeDir})
		}
		if !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err = tw.Write(data)
		return err
	})
	if err != nil {
		return err
	}
	return tw.Close()
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
