//go:build unix

package luarules_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks/luarules"
)

// TestHostilePathsAreRefused: a directory, a FIFO, a link to /dev/zero and
// a file over 8 MiB are refused by name, at once, the process's memory
// untouched; a module that is a FIFO too.
func TestHostilePathsAreRefused(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.lua")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	zero := filepath.Join(dir, "zero.lua")
	if err := os.Symlink("/dev/zero", zero); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.lua")
	if err := os.WriteFile(big, []byte(strings.Repeat("-- padding\n", 800_000)), 0o644); err != nil {
		t.Fatal(err)
	}
	mod := filepath.Join(dir, "usesfifo.lua")
	if err := os.WriteFile(mod, []byte("return require('fifo')\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		dir:  "is a directory",
		fifo: "is a FIFO",
		zero: "is a character device",
		big:  "is larger than 8 MiB",
		mod:  "is a FIFO",
	} {
		began := time.Now()
		_, err := luarules.Load(path, luarules.Options{Logger: quiet()})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", path, err, want)
		}
		var pe *fs.PathError
		if path != mod && !errors.As(err, &pe) {
			t.Errorf("%s: %v is not an *fs.PathError", path, err)
		}
		if took := time.Since(began); took > 5*time.Second {
			t.Errorf("%s: refused after %v", path, took)
		}
	}
}
