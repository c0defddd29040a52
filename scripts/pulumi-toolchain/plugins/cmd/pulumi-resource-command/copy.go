package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/pkg/sftp"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
)

// checkCopySource mirrors upstream's CopyToRemote.Check (remote/copyController.go): the source must be a
// path-based FileAsset, a StringAsset or a path-based FileArchive (an AssetArchive, a RemoteAsset or a
// RemoteArchive is refused).
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

// copyToRemote dials, opens an SFTP client and copies, as upstream's copy (remote/copyController.go).
func copyToRemote(ctx context.Context, inputs resource.PropertyMap, log engineLog) error {
	remotePath, ok := str(inputs, "remotePath")
	if !ok || remotePath == "" {
		return errors.New("remotePath: missing or unknown")
	}
	source := unsecret(inputs["source"])
	client, err := dial(ctx, inputs, log)
	if err != nil {
		return err
	}
	defer client.Close()
	sc, err := sftp.NewClient(client, sftp.UseConcurrentWrites(true))
	if err != nil {
		return err
	}
	defer sc.Close()
	switch {
	case source.IsAsset() && source.AssetValue().IsText():
		text, _ := source.AssetValue().GetText()
		return copyText(sc, text, remotePath)
	case source.IsAsset() && source.AssetValue().IsPath():
		return sftpCopy(sc, source.AssetValue().Path, remotePath)
	case source.IsArchive() && source.ArchiveValue().IsPath():
		return sftpCopy(sc, source.ArchiveValue().Path, remotePath)
	}
	return errors.New("source: must be a FileAsset, a StringAsset or a FileArchive")
}

// remoteStat returns nil, nil when the path does not exist (sftp normalises the error to os.ErrNotExist).
func remoteStat(sc *sftp.Client, p string) (fs.FileInfo, error) {
	info, err := sc.Stat(p)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("failed to stat remote path %s: %w", p, err)
	}
	return info, nil
}

func mkdirAll(sc *sftp.Client, dir string) error {
	if err := sc.MkdirAll(dir); err != nil {
		return fmt.Errorf("failed to create remote directory %s: %w", dir, err)
	}
	return nil
}

// sftpCopy follows upstream's sftpCopy (remote/copyController.go):
//
//	source | dest exists as dir  | dest does not exist | dest exists as file
//	dir    | dest/dir            | dest/dir            | error
//	dir/   | dest/x for x in dir | dest/x for x in dir | error
//	file   | dest/file           | dest                | dest (overwritten)
//
// Missing parents are created (MkdirAll) for directories and for a file's destination.
func sftpCopy(sc *sftp.Client, sourcePath, destPath string) error {
	srcInfo, err := os.Stat(sourcePath)
	if err != nil {
		return err
	}
	destStat, err := remoteStat(sc, destPath)
	if err != nil {
		return err
	}
	dest := destPath
	if !srcInfo.IsDir() {
		if destStat != nil && destStat.IsDir() {
			dest = path.Join(dest, filepath.Base(sourcePath))
		} else if destStat == nil {
			if err := mkdirAll(sc, path.Dir(dest)); err != nil {
				return err
			}
		}
		return copyFile(sc, sourcePath, dest)
	}
	if destStat != nil && !destStat.IsDir() {
		return fmt.Errorf("remote path %s exists but is not a directory", dest)
	}
	if destStat == nil {
		if err := mkdirAll(sc, dest); err != nil {
			return err
		}
	}
	if !strings.HasSuffix(sourcePath, "/") {
		dest = path.Join(dest, filepath.Base(sourcePath))
		st, err := remoteStat(sc, dest)
		if err != nil {
			return err
		}
		if st != nil && !st.IsDir() {
			return fmt.Errorf("remote path %s exists but is not a directory", dest)
		}
		if st == nil {
			if err := mkdirAll(sc, dest); err != nil {
				return err
			}
		}
	}
	return copyDir(sc, sourcePath, dest)
}

// copyFile writes one file as upstream's copyFile does: os.Open follows a symlink (its target is copied as a
// file), and sftp Create opens O_CREATE|O_TRUNC without attributes, so an existing file keeps its mode and a
// new one gets 0666 minus the SFTP session's umask.
func copyFile(sc *sftp.Client, src, dst string) error {
	local, err := os.Open(src)
	if err != nil {
		return err
	}
	defer local.Close()
	remote, err := sc.Create(dst)
	if err != nil {
		return fmt.Errorf("failed to create remote file %s: %w", dst, err)
	}
	defer remote.Close()
	if _, err := remote.ReadFrom(local); err != nil {
		return fmt.Errorf("failed to copy file %s to remote path %s: %w", src, dst, err)
	}
	return nil
}

// copyDir walks the local tree (upstream copyDir): directories are created as needed (mode 0777 minus the
// umask), everything that is not a directory — a symlink included — is copied with copyFile.
func copyDir(sc *sftp.Client, src, dst string) error {
	return fs.WalkDir(os.DirFS(src), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		remotePath := path.Join(dst, filepath.ToSlash(p))
		if !d.IsDir() {
			return copyFile(sc, filepath.Join(src, p), remotePath)
		}
		info, err := remoteStat(sc, remotePath)
		if err != nil {
			return err
		}
		if info == nil {
			if err := sc.Mkdir(remotePath); err != nil {
				return fmt.Errorf("failed to create remote directory %s: %w", remotePath, err)
			}
		} else if !info.IsDir() {
			return fmt.Errorf("remote path %s exists but is not a directory", remotePath)
		}
		return nil
	})
}

// copyText writes a StringAsset to remotePath (upstream copyTextContent): parents are created, an existing
// directory at remotePath is an error.
func copyText(sc *sftp.Client, text, remotePath string) error {
	st, err := remoteStat(sc, remotePath)
	if err != nil {
		return err
	}
	if st != nil && st.IsDir() {
		return fmt.Errorf("remote path %s is a directory; when using a text asset, remotePath must be a file path", remotePath)
	}
	if st == nil {
		if err := mkdirAll(sc, path.Dir(remotePath)); err != nil {
			return err
		}
	}
	remote, err := sc.Create(remotePath)
	if err != nil {
		return fmt.Errorf("failed to create remote file %s: %w", remotePath, err)
	}
	defer remote.Close()
	if _, err := remote.Write([]byte(text)); err != nil {
		return fmt.Errorf("failed to write remote file %s: %w", remotePath, err)
	}
	return nil
}
