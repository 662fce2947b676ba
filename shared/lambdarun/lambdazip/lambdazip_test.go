package lambdazip

import (
	"archive/zip"
	"bytes"
	"debug/elf"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wazuh-pull/wazuh-pull/shared/awstest"
)

// Every test process gets the dummy AWS environment, whether or not it
// talks to AWS.
func TestMain(m *testing.M) { awstest.Main(m) }

// fakeELF returns a minimal 64-bit little-endian ELF executable header for
// machine, with one program header of type progType (0: none). Enough for
// debug/elf, and far smaller than building a real binary in a unit test.
func fakeELF(machine elf.Machine, progType elf.ProgType, pad int) []byte {
	var b bytes.Buffer
	ident := [16]byte{0x7f, 'E', 'L', 'F', byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)}
	phnum := uint16(0)
	if progType != 0 {
		phnum = 1
	}
	hdr := elf.Header64{
		Ident: ident, Type: uint16(elf.ET_EXEC), Machine: uint16(machine), Version: uint32(elf.EV_CURRENT),
		Phoff: 64, Ehsize: 64, Phentsize: 56, Phnum: phnum, Shentsize: 64,
	}
	binary.Write(&b, binary.LittleEndian, hdr)
	if progType != 0 {
		binary.Write(&b, binary.LittleEndian, elf.Prog64{Type: uint32(progType), Off: 0, Filesz: 0})
	}
	b.Write(bytes.Repeat([]byte{0x90}, pad))
	return b.Bytes()
}

func writeZip(t *testing.T, entries map[string][]byte, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f.zip")
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, data := range entries {
		h := &zip.FileHeader{Name: name, Method: zip.Deflate}
		h.SetMode(mode)
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
	}
	zw.Close()
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestWriteIsDeterministicAndChecks(t *testing.T) {
	bin := fakeELF(elf.EM_AARCH64, 0, 4096)
	var a, b bytes.Buffer
	if err := Write(&a, bin); err != nil {
		t.Fatal(err)
	}
	if err := Write(&b, bin); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("two zips of the same binary differ")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "bootstrap")
	os.WriteFile(src, bin, 0o600) // the zip's mode must not depend on the file's
	out := filepath.Join(dir, "fn.zip")
	if err := WriteFile(out, src); err != nil {
		t.Fatal(err)
	}
	onDisk, _ := os.ReadFile(out)
	if !bytes.Equal(onDisk, a.Bytes()) {
		t.Error("WriteFile and Write differ")
	}
	zr, err := zip.OpenReader(out)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	f := zr.File[0]
	if len(zr.File) != 1 || f.Name != "bootstrap" || f.Mode() != 0o755 || !f.Modified.Equal(modTime()) || f.Method != zip.Deflate {
		t.Errorf("entry = %s %v %v method %d (%d entries)", f.Name, f.Mode(), f.Modified, f.Method, len(zr.File))
	}
	info, err := Check(out, Want{Machine: elf.EM_AARCH64})
	if err != nil {
		t.Fatal(err)
	}
	if info.BootstrapBytes != int64(len(bin)) || info.Machine != elf.EM_AARCH64 || info.ZipBytes != int64(len(onDisk)) {
		t.Errorf("info = %+v", info)
	}
}

func TestCheckRefuses(t *testing.T) {
	good := fakeELF(elf.EM_AARCH64, 0, 0)
	zipOf := func(t *testing.T, bin []byte) string {
		p := filepath.Join(t.TempDir(), "f.zip")
		var buf bytes.Buffer
		if err := Write(&buf, bin); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(p, buf.Bytes(), 0o644)
		return p
	}
	cases := []struct {
		name string
		zip  func(t *testing.T) string
		want Want
		msg  string
	}{
		{"x86-64 binary", func(t *testing.T) string { return zipOf(t, fakeELF(elf.EM_X86_64, 0, 0)) }, Want{Machine: elf.EM_AARCH64}, "machine EM_X86_64, want EM_AARCH64"},
		{"dynamic loader", func(t *testing.T) string { return zipOf(t, fakeELF(elf.EM_AARCH64, elf.PT_INTERP, 0)) }, Want{Machine: elf.EM_AARCH64}, "needs a dynamic loader"},
		{"not ELF", func(t *testing.T) string { return zipOf(t, []byte("#!/bin/sh\nexec ./main\n")) }, Want{Machine: elf.EM_AARCH64}, "not an ELF executable"},
		{"too large", func(t *testing.T) string { return zipOf(t, good) }, Want{Machine: elf.EM_AARCH64, MaxZipBytes: 10}, "more than 10"},
		{"wrong name", func(t *testing.T) string { return writeZip(t, map[string][]byte{"main": good}, 0o755) }, Want{Machine: elf.EM_AARCH64}, `holds "main"; want "bootstrap"`},
		{"two entries", func(t *testing.T) string {
			return writeZip(t, map[string][]byte{"bootstrap": good, "README": []byte("x")}, 0o755)
		}, Want{Machine: elf.EM_AARCH64}, "holds 2 entries"},
		{"not executable", func(t *testing.T) string { return writeZip(t, map[string][]byte{"bootstrap": good}, 0o644) }, Want{Machine: elf.EM_AARCH64}, "has mode -rw-r--r--"},
		{"missing file", func(t *testing.T) string { return filepath.Join(t.TempDir(), "none.zip") }, Want{Machine: elf.EM_AARCH64}, "no such file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Check(c.zip(t), c.want)
			if err == nil || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("err = %v, want it to say %q", err, c.msg)
			}
		})
	}
}

func TestMachineFor(t *testing.T) {
	if m, err := MachineFor("arm64"); err != nil || m != elf.EM_AARCH64 {
		t.Errorf("arm64: %v %v", m, err)
	}
	if _, err := MachineFor("riscv64"); err == nil {
		t.Error("riscv64 accepted")
	}
}
