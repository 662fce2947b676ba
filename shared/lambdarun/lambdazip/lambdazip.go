// Package lambdazip writes and checks the deployment package of a Lambda
// function on a provided.al2023 runtime: a zip holding one executable
// named "bootstrap".
//
// The zip is deterministic: the same binary always gives the same bytes
// (fixed modification time, fixed mode, one entry, no directory entries),
// so a rebuild that changed nothing does not show up as a new code hash in
// CloudFormation, and two builders can compare their packages.
package lambdazip

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// EntryName is the file Lambda's provided runtimes execute.
const EntryName = "bootstrap"

// Mode is the entry's permission bits: Lambda runs the file as a
// non-owner user, so it must be readable and executable by everyone.
const Mode os.FileMode = 0o755

// MaxZipBytes is the target size of a deployment package. Lambda accepts
// 50 MB zipped; a small package keeps cold starts and deployments quick.
const MaxZipBytes = 15 << 20

// modTime is the fixed modification time of the entry (the zip format
// cannot store times before 1980).
func modTime() time.Time { return time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC) }

// Write writes a deterministic zip holding bootstrap to w.
func Write(w io.Writer, bootstrap []byte) error {
	zw := zip.NewWriter(w)
	zw.RegisterCompressor(zip.Deflate, func(out io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(out, flate.BestCompression)
	})
	h := &zip.FileHeader{Name: EntryName, Method: zip.Deflate, Modified: modTime()}
	h.SetMode(Mode)
	fw, err := zw.CreateHeader(h)
	if err != nil {
		return fmt.Errorf("lambdazip: %w", err)
	}
	if _, err := fw.Write(bootstrap); err != nil {
		return fmt.Errorf("lambdazip: compress %s: %w", EntryName, err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("lambdazip: %w", err)
	}
	return nil
}

// WriteFile zips the binary at bootstrapPath into zipPath, replacing it
// atomically so a failed build never leaves a half-written package.
func WriteFile(zipPath, bootstrapPath string) error {
	bin, err := os.ReadFile(bootstrapPath)
	if err != nil {
		return fmt.Errorf("lambdazip: %w", err)
	}
	var buf bytes.Buffer
	if err := Write(&buf, bin); err != nil {
		return err
	}
	tmp := zipPath + ".tmp"
	if err := os.WriteFile(tmp, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("lambdazip: %w", err)
	}
	if err := os.Rename(tmp, zipPath); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("lambdazip: %w", err)
	}
	return nil
}

// Info describes a checked package.
type Info struct {
	ZipBytes       int64
	BootstrapBytes int64
	Mode           os.FileMode
	Machine        elf.Machine
	Class          elf.Class
}

// Want is what Check requires.
type Want struct {
	// Machine is the ELF machine (elf.EM_AARCH64 for arm64 functions).
	Machine elf.Machine
	// MaxZipBytes bounds the zip's size (0: MaxZipBytes).
	MaxZipBytes int64
}

// Check verifies the package at path: at most want.MaxZipBytes, exactly
// one entry, named bootstrap, a regular file with mode 0755, and a 64-bit
// little-endian Linux ELF executable for want.Machine that needs no
// dynamic loader (provided.al2023 images carry no Go toolchain and may
// differ in their C library).
func Check(path string, want Want) (Info, error) {
	var info Info
	if want.MaxZipBytes == 0 {
		want.MaxZipBytes = MaxZipBytes
	}
	fi, err := os.Stat(path)
	if err != nil {
		return info, fmt.Errorf("lambdazip: %w", err)
	}
	info.ZipBytes = fi.Size()
	if info.ZipBytes > want.MaxZipBytes {
		return info, fmt.Errorf("lambdazip: %s is %d bytes, more than %d", path, info.ZipBytes, want.MaxZipBytes)
	}
	zr, err := zip.OpenReader(path)
	if err != nil {
		return info, fmt.Errorf("lambdazip: %s: %w", path, err)
	}
	defer zr.Close()
	if len(zr.File) != 1 {
		names := make([]string, 0, len(zr.File))
		for _, f := range zr.File {
			names = append(names, f.Name)
		}
		return info, fmt.Errorf("lambdazip: %s holds %d entries %q; want exactly one, %q", path, len(zr.File), names, EntryName)
	}
	f := zr.File[0]
	if f.Name != EntryName {
		return info, fmt.Errorf("lambdazip: %s holds %q; want %q (provided runtimes execute only that name)", path, f.Name, EntryName)
	}
	info.Mode = f.Mode()
	if !info.Mode.IsRegular() || info.Mode.Perm() != Mode {
		return info, fmt.Errorf("lambdazip: %s: %s has mode %v; want a regular file with %v", path, EntryName, info.Mode, Mode)
	}
	info.BootstrapBytes = int64(f.UncompressedSize64)
	rc, err := f.Open()
	if err != nil {
		return info, fmt.Errorf("lambdazip: %s: %w", path, err)
	}
	bin, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		return info, fmt.Errorf("lambdazip: %s: reading %s (CRC or truncation): %w", path, EntryName, err)
	}
	ef, err := elf.NewFile(bytes.NewReader(bin))
	if err != nil {
		return info, fmt.Errorf("lambdazip: %s: %s is not an ELF executable: %w", path, EntryName, err)
	}
	defer ef.Close()
	info.Machine, info.Class = ef.Machine, ef.Class
	var problems []error
	if ef.Machine != want.Machine {
		problems = append(problems, fmt.Errorf("machine %v, want %v", ef.Machine, want.Machine))
	}
	if ef.Class != elf.ELFCLASS64 || ef.Data != elf.ELFDATA2LSB {
		problems = append(problems, fmt.Errorf("%v %v, want 64-bit little-endian", ef.Class, ef.Data))
	}
	if ef.Type != elf.ET_EXEC && ef.Type != elf.ET_DYN {
		problems = append(problems, fmt.Errorf("ELF type %v is not an executable", ef.Type))
	}
	for _, p := range ef.Progs {
		if p.Type == elf.PT_INTERP {
			problems = append(problems, errors.New("needs a dynamic loader (build with CGO_ENABLED=0)"))
		}
	}
	if len(problems) > 0 {
		return info, fmt.Errorf("lambdazip: %s: %s: %w", path, EntryName, errors.Join(problems...))
	}
	return info, nil
}

// MachineFor maps a GOARCH to its ELF machine.
func MachineFor(goarch string) (elf.Machine, error) {
	switch goarch {
	case "arm64":
		return elf.EM_AARCH64, nil
	case "amd64":
		return elf.EM_X86_64, nil
	}
	return 0, fmt.Errorf("lambdazip: Lambda runs arm64 or amd64, not %q", goarch)
}
