package master

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// One master runs per state directory. It holds a write lock on the pid
// file (fcntl, F_SETLK) for its whole life; the kernel releases the lock
// when the master dies, however it dies, so a pid file left by a crash
// stops nobody. The pid written in the file is for people: programs ask
// the kernel who holds the lock (Holder), so that no stale or forged pid
// file makes ngxtasks signal a process that is not its master.

// PIDFile is the state directory's pid file.
func PIDFile(stateDir string) string { return filepath.Join(stateDir, "ngxtasks.pid") }

// lockPID takes the pid file's lock and writes this process's pid in it.
// The file stays open while the lock is held: closing any descriptor of
// the file would release it.
func lockPID(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("pid file: %w", err)
	}
	lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: 0}
	if err := syscall.FcntlFlock(f.Fd(), syscall.F_SETLK, &lk); err != nil {
		f.Close()
		if errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EACCES) {
			pid, _ := Holder(path)
			return nil, fmt.Errorf("another ngxtasks master (pid %d) runs with state_dir %s; stop it, or give this one its own state_dir", pid, filepath.Dir(path))
		}
		return nil, fmt.Errorf("pid file %s: locking: %w", path, err)
	}
	if err := f.Truncate(0); err != nil {
		f.Close()
		return nil, fmt.Errorf("pid file: %w", err)
	}
	if _, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0); err != nil {
		f.Close()
		return nil, fmt.Errorf("pid file: %w", err)
	}
	return f, nil
}

// Holder returns the pid of the master holding the lock of the pid file at
// path, or 0 when no process holds it (none runs, whatever the file says).
func Holder(path string) (int, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer f.Close()
	lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: 0}
	if err := syscall.FcntlFlock(f.Fd(), syscall.F_GETLK, &lk); err != nil {
		return 0, fmt.Errorf("pid file %s: %w", path, err)
	}
	if lk.Type == syscall.F_UNLCK {
		return 0, nil
	}
	return int(lk.Pid), nil
}
