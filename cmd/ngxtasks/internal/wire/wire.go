// Package wire is what the ngxtasks master and its worker processes say to
// each other: one JSON object a line, over two pipes the master makes for
// each worker (the worker's fds 3 and 4).
//
// Master to worker: a Hello first, then a Config at each reload. The pipe
// closing means the master is gone, and the worker stops.
//
// Worker to master: Ready once it drives, a Fired line for every slot it
// begins — written before the run starts, so that a successor knows every
// slot the worker began even when the worker is killed during the run —,
// a Group line when an exec action's program starts and when it ends, and
// a Reloaded line for each Config.
//
// Writers and readers are typed by direction: the master holds a
// Writer[ToWorker] and a Reader[ToMaster] for each worker, the worker the
// reverse, so that neither can send what only the other says.
package wire

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"sync"
)

// Snapshot is a rule file as the master read it: the file and every env file
// it named, by path. A worker parses it with rulefile.Parse, reading env
// files from Files only, so that the master and every worker see the same
// bytes even when a file changes on disk between their readings.
type Snapshot struct {
	Path  string            `json:"path"`
	Files map[string][]byte `json:"files"`
	// Started is the instance's start (Unix seconds), rulefile.Env's
	// Started: a Lua file's global_start_time, the same in every worker.
	Started int64 `json:"started,omitempty"`
}

// Ran is the last slot a worker began of a rule: the start of that slot,
// and the rule's slot shape — what decides where its slots fall (interval,
// offset, spread, namespace), not the rule's whole definition: a reload
// that changes only what a rule runs leaves its slots where they were, and
// a successor must still skip the one begun.
type Ran struct {
	Rule  string `json:"rule"`
	Slots string `json:"slots"`
	At    int64  `json:"at"` // Unix nanoseconds
}

// Hello starts a worker.
type Hello struct {
	Index  int    `json:"index"`  // 0-based, stable across restarts
	Count  int    `json:"count"`  // worker processes of the master
	Worker string `json:"worker"` // its name in claims and logs
	Dict   string `json:"dict"`   // dictionary URL, overriding the file's when not empty
	Socket string `json:"socket"` // Unix socket for its status and metrics
	// LogFormat is the command line's --log-format, overriding the file's
	// when not empty.
	LogFormat string `json:"log_format,omitempty"`
	// LogLevel is the command line's --log-level (debug, info, warn,
	// error), overriding the file's when not empty.
	LogLevel string   `json:"log_level,omitempty"`
	Config   Snapshot `json:"config"`
	Ran      []Ran    `json:"ran"` // its predecessor's slots; see ngxtasks.Manager.MarkRan
}

// ToWorker is one line from the master.
type ToWorker struct {
	Hello  *Hello    `json:"hello,omitempty"`
	Config *Snapshot `json:"config,omitempty"` // a reload
	Seq    int64     `json:"seq,omitempty"`    // of the reload, echoed in Reloaded
}

// Reloaded is a worker's answer to a Config.
type Reloaded struct {
	Seq     int64    `json:"seq"`
	Added   []string `json:"added,omitempty"`
	Changed []string `json:"changed,omitempty"`
	Removed []string `json:"removed,omitempty"`
	Kept    int      `json:"kept"`
	Error   string   `json:"error,omitempty"`
}

// Group is the process group of an exec action's program: started (Live)
// or ended. The master kills the groups a worker that died left behind.
type Group struct {
	PGID int  `json:"pgid"`
	Live bool `json:"live"`
}

// ToMaster is one line from a worker.
type ToMaster struct {
	Ready    bool      `json:"ready,omitempty"`
	Fired    *Ran      `json:"fired,omitempty"`
	Group    *Group    `json:"group,omitempty"`
	Reloaded *Reloaded `json:"reloaded,omitempty"`
}

// Message is what goes down one of the pipes: ToWorker from the master,
// ToMaster from a worker. Writers and readers are of one kind, so that
// neither side can send the other's lines.
type Message interface{ ToWorker | ToMaster }

// Writer writes lines of one kind; it is safe for concurrent use, one
// line at a time.
type Writer[M Message] struct {
	mu sync.Mutex
	w  io.Writer
}

// NewWriter writes to w, unbuffered: each line is one write, so that it is
// in the pipe when Write returns.
func NewWriter[M Message](w io.Writer) *Writer[M] { return &Writer[M]{w: w} }

// Write sends msg as one line.
func (w *Writer[M]) Write(msg M) error {
	line, err := Encode(msg)
	if err != nil {
		return err
	}
	return w.WriteLine(line)
}

// Line is a message encoded once, to be sent to several writers
// (WriteLine): the master sends one reload to every worker.
type Line[M Message] struct{ b []byte }

// Encode makes msg's line.
func Encode[M Message](msg M) (Line[M], error) {
	b, err := json.Marshal(msg)
	if err != nil {
		return Line[M]{}, err
	}
	return Line[M]{append(b, '\n')}, nil
}

// WriteLine sends a line made by Encode.
func (w *Writer[M]) WriteLine(line Line[M]) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, err := w.w.Write(line.b)
	return err
}

// Reader reads lines of one kind.
type Reader[M Message] struct{ s *bufio.Scanner }

// maxLine bounds a line: a Hello carries a whole rule file (at most 8 MiB)
// and its env files, base64-encoded.
const maxLine = 64 << 20

// NewReader reads from r.
func NewReader[M Message](r io.Reader) *Reader[M] {
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 0, 64<<10), maxLine)
	return &Reader[M]{s}
}

// Read decodes the next line; io.EOF when the other side closed.
func (r *Reader[M]) Read() (M, error) {
	var msg M
	if !r.s.Scan() {
		if err := r.s.Err(); err != nil {
			return msg, err
		}
		return msg, io.EOF
	}
	if err := json.Unmarshal(r.s.Bytes(), &msg); err != nil {
		return msg, fmt.Errorf("wire: %w", err)
	}
	return msg, nil
}
