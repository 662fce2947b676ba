package wazuhlab

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// writeFile writes b to path with the given mode and owner.
func writeFile(path string, b []byte, mode os.FileMode, uid, gid int) error {
	if err := os.WriteFile(path, b, mode); err != nil {
		return fmt.Errorf("wazuhlab: %w", err)
	}
	if err := os.Chown(path, uid, gid); err != nil {
		return fmt.Errorf("wazuhlab: %w", err)
	}
	if err := os.Chmod(path, mode); err != nil {
		return fmt.Errorf("wazuhlab: %w", err)
	}
	return nil
}

// copyFile copies src to dst with the given mode and owner.
func copyFile(src, dst string, mode os.FileMode, uid, gid int) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("wazuhlab: %w", err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return fmt.Errorf("wazuhlab: %w", err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("wazuhlab: copy %s: %w", src, err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("wazuhlab: %w", err)
	}
	if err := os.Chown(dst, uid, gid); err != nil {
		return fmt.Errorf("wazuhlab: %w", err)
	}
	return os.Chmod(dst, mode)
}

// linkOrCopy hard-links src to dst (the engine's binaries are large and
// never written to), or copies it across file systems. A link keeps the
// source's owner and mode: nothing here may change them, since the
// engine, such as the shared cache, is read-only for us.
func linkOrCopy(src, dst string, mode os.FileMode, uid, gid int) error {
	if err := os.Link(src, dst); err == nil {
		return nil
	}
	return copyFile(src, dst, mode, uid, gid)
}

// copyTree copies the regular files and directories below src into dst
// (created if needed). A missing src is not an error: not every engine has
// every directory. With link, files are hard-linked when possible.
func copyTree(src, dst string, uid, gid int, mode os.FileMode, link bool) error {
	if _, err := os.Stat(src); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("wazuhlab: %w", err)
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			if err := os.MkdirAll(target, 0o750); err != nil {
				return fmt.Errorf("wazuhlab: %w", err)
			}
			if err := os.Chown(target, uid, gid); err != nil {
				return fmt.Errorf("wazuhlab: %w", err)
			}
			return os.Chmod(target, 0o770&(mode|0o110))
		case d.Type().IsRegular():
			if link {
				return linkOrCopy(p, target, mode, uid, gid)
			}
			return copyFile(p, target, mode, uid, gid)
		case d.Type()&fs.ModeSymlink != 0:
			to, err := os.Readlink(p)
			if err != nil {
				return fmt.Errorf("wazuhlab: %w", err)
			}
			return os.Symlink(to, target)
		}
		return nil
	})
}
