package master

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"sync"

	"github.com/ngxtasks/ngxtasks/cmd/ngxtasks/internal/wire"
)

// ranLog keeps the last slot each worker identity began of each rule, in
// memory and in a file of the state directory (slots.log), so that a worker
// process started later runs none of them again: the successor of a worker
// that died, and the same worker after the whole daemon restarted (a
// deploy, systemctl restart) within a slot.
//
// The file is a journal, one JSON line per slot begun, appended as the
// workers report them; it is rewritten with the last slot of each worker
// and rule at open and whenever it has grown to several times that. An
// append is one write(2), which survives the master's own crash (the
// kernel has it); what a power loss takes is the last seconds' lines.
type ranLog struct {
	path string

	mu    sync.Mutex
	last  map[string]map[string]wire.Ran // by worker, then rule
	n     int                            // entries in last
	f     *os.File                       // nil when the file failed
	lines int                            // in the file
}

// ranLine is a line of the journal.
type ranLine struct {
	Worker string `json:"worker"`
	wire.Ran
}

// maxRanLog bounds what openRanLog reads: 100,000 rules in 64 workers
// make lines of about 100 bytes, far below it.
const maxRanLog = 1 << 30

// openRanLog reads the journal at path, if any, and rewrites it compacted.
// A journal that cannot be read or written is not fatal: the master keeps
// the slots in memory, which covers a worker's restart but not the
// daemon's, and says so.
func openRanLog(path string) (*ranLog, error) {
	l := &ranLog{path: path, last: make(map[string]map[string]wire.Ran)}
	bad, err := l.read()
	if err != nil {
		return l, err
	}
	if err := l.compact(); err != nil {
		return l, err
	}
	if bad > 0 {
		return l, fmt.Errorf("%s: skipped %d unreadable line(s)", path, bad)
	}
	return l, nil
}

// read loads the journal; a line that is not one (a torn last line of a
// crash) is skipped and counted.
func (l *ranLog) read() (bad int, err error) {
	f, err := os.Open(l.path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer f.Close()
	s := bufio.NewScanner(io.LimitReader(f, maxRanLog))
	s.Buffer(make([]byte, 0, 4096), 1<<20)
	for s.Scan() {
		var line ranLine
		if json.Unmarshal(s.Bytes(), &line) != nil || line.Worker == "" || line.Rule == "" {
			bad++
			continue
		}
		l.set(line.Worker, line.Ran)
	}
	return bad, s.Err()
}

func (l *ranLog) set(worker string, r wire.Ran) {
	m := l.last[worker]
	if m == nil {
		m = make(map[string]wire.Ran)
		l.last[worker] = m
	}
	if _, had := m[r.Rule]; !had {
		l.n++
	}
	m[r.Rule] = r
}

// compact rewrites the journal from memory, atomically (a new file renamed
// over the old), and keeps it open for appending.
func (l *ranLog) compact() error {
	tmp := l.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return l.fail(err)
	}
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	for _, worker := range slices.Sorted(maps.Keys(l.last)) {
		for _, rule := range slices.Sorted(maps.Keys(l.last[worker])) {
			_ = enc.Encode(ranLine{worker, l.last[worker][rule]})
		}
	}
	err = w.Flush()
	if err == nil {
		err = f.Close()
	} else {
		f.Close()
	}
	if err == nil {
		err = os.Rename(tmp, l.path)
	}
	if err != nil {
		os.Remove(tmp)
		return l.fail(err)
	}
	if l.f != nil {
		l.f.Close()
	}
	l.f, err = os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return l.fail(err)
	}
	l.lines = l.n
	return nil
}

func (l *ranLog) fail(err error) error {
	if l.f != nil {
		l.f.Close()
		l.f = nil
	}
	return fmt.Errorf("the record of slots begun (%s) is kept in memory only: %w", l.path, err)
}

// record notes that worker began r. The error is the file's; the slot is
// recorded in memory either way. Only the first of a run of failures is
// returned, so that a full disk is logged once, not once per slot.
func (l *ranLog) record(worker string, r wire.Ran) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.set(worker, r)
	if l.f == nil {
		return nil
	}
	line, err := json.Marshal(ranLine{worker, r})
	if err == nil {
		_, err = l.f.Write(append(line, '\n'))
	}
	if err != nil {
		return l.fail(err)
	}
	if l.lines++; l.lines > 4*l.n+1024 {
		return l.compact()
	}
	return nil
}

// of returns the last slots worker began, one per rule.
func (l *ranLog) of(worker string) []wire.Ran {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Collect(maps.Values(l.last[worker]))
}

// Close closes the file.
func (l *ranLog) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
