//go:build unix && !linux

package action

import "syscall"

// sysProcAttr makes the program lead a new process group. Only Linux and
// FreeBSD know a parent-death signal; elsewhere a program outlives a worker
// that is SIGKILLed.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// hasLiveMember cannot tell zombies from live processes without /proc, so
// it counts every member as live.
func hasLiveMember(int) bool { return true }
