package action

import (
	"bytes"
	"os"
	"strconv"
	"syscall"
)

// sysProcAttr makes the program lead a new process group, and has the
// kernel SIGKILL it when the worker dies without stopping it (SIGKILL, OOM
// killer). The kernel sends that signal when the thread that started the
// program exits, not the process (go.dev/issue/27505); Exec keeps its
// goroutine on that thread until the program is reaped, so that no other
// goroutine can lock the thread and end it.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// hasLiveMember reports whether /proc lists a process of the group that is
// not a zombie. When /proc cannot be read it assumes there is one.
func hasLiveMember(pgid int) bool {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return true
	}
	want := strconv.Itoa(pgid)
	for _, e := range entries {
		name := e.Name()
		if name[0] < '0' || name[0] > '9' {
			continue
		}
		stat, err := os.ReadFile("/proc/" + name + "/stat")
		if err != nil {
			continue // exited meanwhile
		}
		// "pid (comm) state ppid pgrp …"; comm may hold spaces and
		// parentheses, so the fields start after the last ')'.
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		f := bytes.Fields(stat[i+1:])
		if len(f) < 3 || string(f[2]) != want {
			continue
		}
		if state := f[0][0]; state != 'Z' && state != 'X' {
			return true
		}
	}
	return false
}
