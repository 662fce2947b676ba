package filestore

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// dir is an open handle on the state directory. Every file in it is
// reached relative to the handle with O_NOFOLLOW, so a symbolic link
// planted under a state or lock file name is refused instead of followed
// (a lock opened through a link would have truncated the link's target).
type dir struct {
	fd   int
	path string
}

// openDir opens the state directory and checks that nobody but this user
// can change its entries: another user able to create or rename files in
// it could substitute the state file or plant links under its names.
func openDir(path string) (*dir, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("filestore: open state directory %s: %w", path, err)
	}
	d := &dir{fd: fd, path: path}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		d.close()
		return nil, fmt.Errorf("filestore: stat state directory %s: %w", path, err)
	}
	if uid := os.Geteuid(); int(st.Uid) != uid {
		d.close()
		return nil, fmt.Errorf("filestore: state directory %s is owned by uid %d, not by this user (uid %d): "+
			"another user could replace its files; use a directory this user owns (chown it, or choose another state file)", path, st.Uid, uid)
	}
	if perm := st.Mode & 0o7777; perm&0o022 != 0 {
		d.close()
		return nil, fmt.Errorf("filestore: state directory %s is writable by group or others (mode %04o): "+
			"they could replace its files; remove that permission (chmod go-w %s) or choose another state file", path, perm, path)
	}
	return d, nil
}

func (d *dir) close() { unix.Close(d.fd) }

// errSymlink is returned for a state or lock file name that is a link.
var errSymlink = errors.New("is a symbolic link; refusing to follow it")

// open opens name in the directory without following a link and checks
// that it is a regular file owned by this user. It returns nil, nil for a
// missing file when flags has no O_CREAT.
func (d *dir) open(name string, flags int, perm uint32) (*os.File, error) {
	fd, _, err := d.openFD(name, flags, perm)
	if err != nil || fd < 0 {
		return nil, err
	}
	// Blocking again for *os.File, which would otherwise try to register
	// the descriptor with the network poller.
	if err := unix.SetNonblock(fd, false); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("filestore: %s/%s: %w", d.path, name, err)
	}
	return os.NewFile(uintptr(fd), d.path+"/"+name), nil
}

// openFD is open's descriptor and status, for a caller that needs no
// *os.File (-1 for a missing file when flags has no O_CREAT). The
// descriptor is left non-blocking, which a regular file ignores: the flag
// only guarded the open against special files.
func (d *dir) openFD(name string, flags int, perm uint32) (int, *unix.Stat_t, error) {
	fd, err := unix.Openat(d.fd, name, flags|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, perm)
	switch {
	case errors.Is(err, unix.ENOENT) && flags&unix.O_CREAT == 0:
		return -1, nil, nil
	case errors.Is(err, unix.ELOOP):
		return -1, nil, fmt.Errorf("filestore: %s/%s %w", d.path, name, errSymlink)
	case err != nil:
		return -1, nil, fmt.Errorf("filestore: open %s/%s: %w", d.path, name, err)
	}
	st := new(unix.Stat_t)
	if err := unix.Fstat(fd, st); err != nil {
		unix.Close(fd)
		return -1, nil, fmt.Errorf("filestore: stat %s/%s: %w", d.path, name, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		return -1, nil, fmt.Errorf("filestore: %s/%s is not a regular file", d.path, name)
	}
	if uid := os.Geteuid(); int(st.Uid) != uid {
		unix.Close(fd)
		return -1, nil, fmt.Errorf("filestore: %s/%s is owned by uid %d, not by this user (uid %d)", d.path, name, st.Uid, uid)
	}
	return fd, st, nil
}

// readFile returns name's content and identity, or ok false if it does
// not exist.
func (d *dir) readFile(name string) (b []byte, id fileID, ok bool, err error) {
	f, err := d.open(name, unix.O_RDONLY, 0)
	if err != nil || f == nil {
		return nil, fileID{}, false, err
	}
	defer f.Close()
	if id, err = statID(f); err != nil {
		return nil, fileID{}, false, err
	}
	// One read into a buffer of the file's size (plus one byte to see the
	// end), not io.ReadAll's doubling: every run reads the file, and
	// memory touched for the first time is what costs most here.
	b = make([]byte, 0, id.size+1)
	b, err = readAllInto(b, f)
	if err != nil {
		return nil, fileID{}, false, fmt.Errorf("filestore: read %s: %w", f.Name(), err)
	}
	return b, id, true, nil
}

// readAllInto appends r's content to b, growing b only if r holds more
// than b's spare capacity.
func readAllInto(b []byte, r io.Reader) ([]byte, error) {
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

// fileID tells whether a file is still the one a cached document came
// from.
type fileID struct {
	ino, size uint64
	mtimeNs   int64
	mode      uint32
	gid       uint32
}

func statID(f *os.File) (fileID, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return fileID{}, fmt.Errorf("filestore: stat %s: %w", f.Name(), err)
	}
	return idOf(&st), nil
}

func idOf(st *unix.Stat_t) fileID {
	return fileID{ino: st.Ino, size: uint64(st.Size), mtimeNs: st.Mtim.Nano(), mode: uint32(st.Mode), gid: st.Gid}
}

// stat returns name's identity without following a link.
func (d *dir) stat(name string) (fileID, bool, error) {
	var st unix.Stat_t
	err := unix.Fstatat(d.fd, name, &st, unix.AT_SYMLINK_NOFOLLOW)
	if errors.Is(err, unix.ENOENT) {
		return fileID{}, false, nil
	}
	if err != nil {
		return fileID{}, false, fmt.Errorf("filestore: stat %s/%s: %w", d.path, name, err)
	}
	return idOf(&st), true, nil
}

// tempPrefix starts the names of the temporary state files that earlier
// versions wrote before renaming them; anything left with it was abandoned
// by a writer that crashed.
func tempPrefix(name string) string { return name + ".tmp-" }

// scratchName is the file a commit writes the next state into before
// exchanging it with the state file. It is kept between commits (it then
// holds the previous state), so that a commit neither creates nor deletes
// a file: on ext4 a new inode costs a search past every recently deleted
// one, and a commit per page made that the largest part of a commit's
// CPU (docs/testing.md).
func scratchName(name string) string { return name + ".next" }

// writeAtomic replaces name with b so that a crash at any instant leaves
// either the old or the new content. b is written into the scratch file,
// synced, and atomically exchanged with name (renameat2
// RENAME_EXCHANGE); the directory is then fsynced, so the exchange is
// durable before the next commit overwrites the old content. Where there
// is no state file yet, or the file system cannot exchange, the scratch
// file is renamed over name instead. The scratch file is opened without
// following links and must be a regular file owned by this user, like
// every other file of the store.
func (d *dir) writeAtomic(name string, b []byte, fsyncDir func(fd int) error) (err error) {
	perm, gid := uint32(0o600), -1
	stateID, exists, err := d.stat(name)
	if err != nil {
		return err
	}
	// Only a regular file is exchanged: anything else under the state
	// file's name is replaced, as a rename does.
	regular := exists && stateID.mode&unix.S_IFMT == unix.S_IFREG
	if regular {
		perm, gid = stateID.mode&0o777, int(stateID.gid)
	}
	scratch := scratchName(name)
	fd, st, err := d.openScratch(scratch)
	if err != nil {
		return err
	}
	defer func() {
		if fd >= 0 {
			unix.Close(fd)
		}
	}()
	// The state file's group and mode first, so the new content is never
	// readable more widely than the state it replaces (the two files
	// trade places at every commit).
	if gid >= 0 && uint32(gid) != st.Gid {
		// Best effort: a user outside the state file's group may not
		// give it to the scratch file, and the commit must still happen.
		// The file then keeps the user's own group, which must not get
		// the state file's group permissions.
		if err = unix.Fchown(fd, -1, gid); errors.Is(err, unix.EPERM) {
			perm &^= 0o070
		} else if err != nil {
			return fmt.Errorf("filestore: chgrp scratch file %s/%s: %w", d.path, scratch, err)
		}
	}
	if uint32(st.Mode)&0o7777 != perm {
		if err = unix.Fchmod(fd, perm); err != nil {
			return fmt.Errorf("filestore: chmod scratch file %s/%s: %w", d.path, scratch, err)
		}
	}
	// Overwriting in place keeps the file's blocks instead of freeing and
	// allocating them again. Content a little shorter than the file is
	// padded with whitespace, which JSON ignores, rather than cut: a
	// shorter file costs the file system a truncation (a journalled
	// orphan-list update) on every commit, and a file whose size and
	// blocks stay the same needs only its data synced, not the journal.
	size := int(st.Size)
	if padInstead(size, len(b)) {
		b = appendPadding(b, size-len(b))
	}
	if err = pwriteAll(fd, b); err != nil {
		return fmt.Errorf("filestore: write scratch file %s/%s: %w", d.path, scratch, err)
	}
	if len(b) < size {
		if err = unix.Ftruncate(fd, int64(len(b))); err != nil {
			return fmt.Errorf("filestore: truncate scratch file %s/%s: %w", d.path, scratch, err)
		}
	}
	if err = syncData(fd); err != nil {
		return fmt.Errorf("filestore: sync scratch file %s/%s: %w", d.path, scratch, err)
	}
	err = unix.Close(fd)
	fd = -1
	if err != nil {
		return fmt.Errorf("filestore: close scratch file %s/%s: %w", d.path, scratch, err)
	}
	// Where there is nothing to exchange with, or the file system cannot
	// exchange (or refuses to for any reason), renaming the scratch file
	// over the state file does the same job, as commits did before.
	if !regular || exchange(d.fd, scratch, name) != nil {
		if err = unix.Renameat(d.fd, scratch, d.fd, name); err != nil {
			return fmt.Errorf("filestore: rename %s/%s over %s: %w", d.path, scratch, name, err)
		}
	}
	if err = fsyncDir(d.fd); err != nil {
		return fmt.Errorf("filestore: fsync state directory %s: %w", d.path, err)
	}
	return nil
}

// padInstead reports whether n bytes of content are padded to the scratch
// file's size rather than the file cut: always while the file stays
// within padBelow (a stream's dedup set at its watermark grows page after
// page and empties when the watermark moves on, and cutting the file each
// time cost a Cortex XDR catch-up 5 % of its CPU; whitespace costs a
// reader next to nothing), and beyond it for the few bytes a record's
// size moves by from one commit to the next, never more than an eighth of
// the content, so a large state that shrank for good does not keep its
// old size.
func padInstead(size, n int) bool {
	pad := size - n
	return pad > 0 && (size <= padBelow || pad <= max(256, n/8))
}

// padBelow is the file size up to which a commit never cuts the file.
const padBelow = 64 << 10

// appendPadding makes b pad bytes longer with whitespace before its final
// newline (b ends with one: the store writes whole lines).
func appendPadding(b []byte, pad int) []byte {
	n := len(b)
	b = slices.Grow(b, pad)[:n+pad]
	for i := n - 1; i < n+pad-1; i++ {
		b[i] = ' '
	}
	b[n+pad-1] = '\n'
	return b
}

// pwriteAll writes b at the start of fd, whatever the size of each write.
func pwriteAll(fd int, b []byte) error {
	for off := 0; off < len(b); {
		n, err := unix.Pwrite(fd, b[off:], int64(off))
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return err
		}
		if n == 0 {
			return io.ErrShortWrite
		}
		off += n
	}
	return nil
}

// openScratch opens the scratch file for writing, creating it if needed,
// and returns its descriptor and status. One with another link (made by
// hand; this store never links) is replaced by a new file: writing it in
// place would write through the other name too.
func (d *dir) openScratch(scratch string) (int, *unix.Stat_t, error) {
	for replaced := false; ; replaced = true {
		flags := unix.O_WRONLY | unix.O_CREAT
		if replaced {
			flags |= unix.O_EXCL
		}
		fd, st, err := d.openFD(scratch, flags, 0o600)
		if err != nil {
			return -1, nil, fmt.Errorf("filestore: scratch file: %w", err)
		}
		if st.Nlink == 1 {
			return fd, st, nil
		}
		unix.Close(fd)
		if replaced {
			return -1, nil, fmt.Errorf("filestore: scratch file %s/%s has %d links though just created", d.path, scratch, st.Nlink)
		}
		if err := unix.Unlinkat(d.fd, scratch, 0); err != nil && !errors.Is(err, unix.ENOENT) {
			return -1, nil, fmt.Errorf("filestore: replace linked scratch file %s/%s: %w", d.path, scratch, err)
		}
	}
}

// removeStaleTemps deletes temporary files of name left by a writer that
// crashed between creating and renaming one. The caller holds the write
// lock, so no live writer is between those steps.
func (d *dir) removeStaleTemps(name string) (int, error) {
	dup, err := unix.Dup(d.fd)
	if err != nil {
		return 0, fmt.Errorf("filestore: list state directory: %w", err)
	}
	f := os.NewFile(uintptr(dup), d.path)
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return 0, fmt.Errorf("filestore: list state directory: %w", err)
	}
	removed := 0
	for _, n := range names {
		if !strings.HasPrefix(n, tempPrefix(name)) {
			continue
		}
		if err := unix.Unlinkat(d.fd, n, 0); err != nil && !errors.Is(err, unix.ENOENT) {
			return removed, fmt.Errorf("filestore: remove stale temp file %s/%s: %w", d.path, n, err)
		}
		removed++
	}
	return removed, nil
}
