package cli

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"
	"syscall"

	"github.com/ngxtasks/ngxtasks/cmd/ngxtasks/internal/master"
)

// reloadCmd signals the running master of a rule file to reload it, as
// nginx -s reload does: through the pid file in the file's state_dir.
// The master checks the file; its log says whether the reload applied.
func reloadCmd(args []string, stdout, stderr io.Writer) int {
	fs := flags("reload", stderr)
	config := configFlag(fs)
	if code, ok := parse(fs, args); !ok {
		return code
	}
	f, ok := load(*config, stderr)
	if !ok {
		return 2 // the master would refuse this file too
	}
	pidFile := master.PIDFile(f)
	b, err := os.ReadFile(pidFile)
	if err != nil {
		fmt.Fprintf(stderr, "ngxtasks reload: is ngxtasks running with this file? %v\n", err)
		return 1
	}
	pid, err := strconv.Atoi(string(bytes.TrimSpace(b)))
	if err != nil || pid <= 0 {
		fmt.Fprintf(stderr, "ngxtasks reload: %s does not hold a pid\n", pidFile)
		return 1
	}
	if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
		fmt.Fprintf(stderr, "ngxtasks reload: signalling pid %d: %v\n", pid, err)
		return 1
	}
	fmt.Fprintf(stdout, "asked the master (pid %d) to reload %s; its log says when every worker applied it\n", pid, *config)
	return 0
}
