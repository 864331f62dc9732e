package main

// The dictionaries a rule file's dict (or --dict) may name, by URL scheme:
// mem:// is the core's own; these packages register the others when they
// are linked in. They are linked here, in the command's main package, and
// nowhere else, so that what the binary can reach is read in one place:
// the master checks a file's scheme against them (master.Resolve), and
// the worker processes, this same binary, open the dictionary.
import (
	_ "github.com/ngxtasks/ngxtasks/etcddict"   // etcd://, etcds://
	_ "github.com/ngxtasks/ngxtasks/pgdict"     // postgres://, postgresql://
	_ "github.com/ngxtasks/ngxtasks/redisdict"  // redis://, rediss://
	_ "github.com/ngxtasks/ngxtasks/sqlitedict" // sqlite://
)
