package rulefile

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// hostilePaths makes, in dir, a path of each kind a read must refuse,
// with what the error must say.
func hostilePaths(t *testing.T, dir string) map[string]string {
	t.Helper()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, []byte(strings.Repeat("#\n", maxFileSize/2+1)), 0o600); err != nil {
		t.Fatal(err)
	}
	paths := map[string]string{
		"/dev/zero": "is a character device, not a regular file",
		fifo:        "is a FIFO (named pipe), not a regular file",
		dir:         "is a directory, not a regular file",
		big:         "is larger than 8 MiB, the most a rule or env file may have",
	}
	for _, target := range []string{"/dev/null", "/dev/zero"} {
		link := filepath.Join(dir, "link-to-"+filepath.Base(target))
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
		paths[link] = "is a character device (the link's target, " + target + "), not a regular file"
	}
	return paths
}

// TestHostileFilesAreRefused reads each kind of path a rule file or an
// env file must not be: every read ends at once, with an error that names
// the path and what it is, and allocates at most about the size limit.
func TestHostileFilesAreRefused(t *testing.T) {
	dir := t.TempDir()
	for path, want := range hostilePaths(t, dir) {
		t.Run("rule file "+filepath.Base(path), func(t *testing.T) {
			err := boundedRun(t, func() error { _, err := Load(path); return err })
			if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), want) {
				t.Errorf("Load: %v; want the path and %q", err, want)
			}
			err = boundedRun(t, func() error { _, _, _, err := LoadFiles(path, nil); return err })
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("LoadFiles: %v; want %q", err, want)
			}
		})
		t.Run("env file "+filepath.Base(path), func(t *testing.T) {
			rules := filepath.Join(t.TempDir(), "rules.yaml")
			src := "env_file: " + path + "\nrules:\n  - {id: a, interval: 1s, type: normal, exec: {argv: [true], env_file: " + path + "}}\n"
			if err := os.WriteFile(rules, []byte(src), 0o600); err != nil {
				t.Fatal(err)
			}
			err := boundedRun(t, func() error { _, err := Load(rules); return err })
			got := messages(t, err)
			if len(got) != 2 || !strings.Contains(got[0], "env_file: cannot read "+quote(path)+": "+want) || !strings.Contains(got[1], "exec.env_file: cannot read") {
				t.Errorf("got %q; want both env_files refused with %q", got, want)
			}
		})
	}
}

// boundedRun runs read, failing the test if it takes more than a few
// seconds (a blocked FIFO) or allocates much more than the size limit
// (a device read to the end).
func boundedRun(t *testing.T, read func() error) error {
	t.Helper()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	done := make(chan error, 1)
	go func() { done <- read() }()
	select {
	case err := <-done:
		runtime.ReadMemStats(&after)
		if got := after.TotalAlloc - before.TotalAlloc; got > 4*maxFileSize {
			t.Errorf("allocated %d bytes", got)
		}
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("the read blocked")
		return nil
	}
}

// A file at the limit is read; reading stops one byte past it even when
// the size the file reported was smaller (a file that grows while read).
func TestFileOfExactlyTheSizeLimitIsRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rules.yaml")
	data := []byte("rules: []\n" + strings.Repeat("#", maxFileSize-len("rules: []\n")))
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if f, err := Load(path); err != nil || len(f.Rules) != 0 {
		t.Fatalf("a file of exactly %d bytes: %v", maxFileSize, err)
	}
}
