// Package action runs one firing of a rule's action: the program of an
// exec: rule (Exec) or the request of an http: rule (HTTP).
//
// # Process groups
//
// A rule's program may start programs of its own (a shell script usually
// does), and a run is only over when all of them are. So Exec starts the
// program as the leader of a new process group and stops the run by
// signalling the whole group, never the leader alone:
//
//   - When the run's context ends (its timeout, or the worker stopping),
//     the group gets SIGTERM; whatever is left of it Grace later gets
//     SIGKILL. Grace 0 sends SIGKILL at once.
//   - When the leader exits, by itself or on SIGTERM, whatever it left in
//     its group is stopped the same way (SIGTERM, Grace, SIGKILL) before
//     Exec returns: a run leaves no orphans behind, and a background
//     process holding the output pipe cannot keep Exec waiting.
//
// The leader also gets a parent-death signal (SIGKILL), so that it dies
// with the worker even when the worker is SIGKILLed and has no chance to
// stop it. That covers the leader only: the kernel does not pass the
// setting on to the leader's own children, which are then orphaned. Nor
// does a process group hold a program that leaves it (setsid, setpgid).
// Containing those needs the service manager's help: systemd's
// KillMode=control-group, the default, kills every process of the
// service's cgroup when it stops.
//
// A group's number is its leader's pid, which the kernel does not hand out
// again while the leader is unreaped or any member of the group lives.
// Exec signals the group while the leader is unreaped, or right after
// seeing members in it, so that its signals do not reach some later,
// unrelated group. (The one gap: the context ending in the instant the
// leader is reaped, with the group empty and its number reused already.)
//
// # Output
//
// Stdout and stderr share one pipe, so the kept output interleaves them as
// the program wrote them. Only the last OutputLimit bytes are kept, in a
// ring that never grows past the limit, and the rest is counted: a program
// (or an HTTP server) sending gigabytes costs the worker OutputLimit bytes
// of memory, and the end of the output, where an error usually is, is what
// survives.
//
// # Secrets
//
// Environment values, URLs, header values and bodies may hold secrets
// expanded from ${VAR} (see package rulefile). They are used, never
// shown: errors name the program (argv[0]), the working directory, or the
// method and the URL's template, and never an environment value, an
// expanded URL or a header value. net/http's errors quote the whole URL,
// query string included, so HTTP replaces that part of them.
package action
