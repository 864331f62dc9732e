package master

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/ngxtasks/ngxtasks/cmd/ngxtasks/internal/rulefile"
	"github.com/ngxtasks/ngxtasks/cmd/ngxtasks/internal/wire"
)

// reload is one reload on its way to the workers.
type reload struct {
	began   time.Time
	waiting int // workers that have not answered
	failed  int
}

// Reload re-reads the rule file and hands it to every worker, which swap
// their rules in one step (ngxtasks.Manager.Replace): rules whose
// definition did not change keep their slot state. A file with mistakes
// is refused, its errors logged, and the old rules keep running. The
// diff is logged, and a line once every worker applied it.
//
// Settings that need new processes or a new listener (workers, dict,
// namespace, listen, state_dir, token_env, log) are not applied by a
// reload; a change to them is logged.
func (m *Master) Reload() {
	m.mu.Lock()
	prev := m.file
	m.mu.Unlock()
	f, abs, files, err := rulefile.LoadFiles(m.opts.Config, prev)
	if err == nil {
		_, err = Settle(f, m.opts.Overrides)
	}
	if err != nil {
		var list rulefile.Errors
		if errors.As(err, &list) {
			for _, e := range list {
				m.log.Error("ngxtasks: reload refused; the old rules keep running", "error", e.Error())
			}
		} else {
			m.log.Error("ngxtasks: reload refused; the old rules keep running", "error", err)
		}
		return
	}
	m.mu.Lock()
	added, changed, removed := diff(m.file, f)
	m.warnUnapplied(f)
	m.file = f
	m.snap = wire.Snapshot{Path: abs, Files: files}
	m.seq++
	seq, snap := m.seq, m.snap
	var sendTo []*proc
	for _, p := range m.workers {
		p.mu.Lock()
		if p.to != nil { // else between processes: the next one gets the file in its hello
			sendTo = append(sendTo, p)
		}
		p.mu.Unlock()
	}
	if len(sendTo) > 0 {
		m.pending[seq] = &reload{began: time.Now(), waiting: len(sendTo)}
	}
	m.mu.Unlock()
	m.log.Info("ngxtasks: reloading", "rules", len(f.Rules), "added", added, "changed", changed, "removed", removed, "seq", seq)

	// Sent without holding mu: a worker's answers, read under mu, must
	// never wait for this write.
	line, err := wire.Encode(wire.ToWorker{Config: &snap, Seq: seq})
	if err != nil {
		m.log.Error("ngxtasks: encoding the reload for the workers", "error", err)
		return
	}
	// To every worker at once: a pipe holds 64 KiB, so a big file goes
	// through in many turns of the reading worker.
	for _, p := range sendTo {
		go func() {
			p.mu.Lock()
			to := p.to
			p.mu.Unlock()
			if to == nil || to.WriteLine(line) != nil {
				m.log.Warn("ngxtasks: a worker exited before the reload; its successor starts with the new file", "worker", p.name)
				m.settle(seq, false)
			}
		}()
	}
}

// reloaded takes a worker's answer to a reload.
func (m *Master) reloaded(p *proc, a *wire.Reloaded) {
	if a.Error != "" {
		m.log.Error("ngxtasks: a worker refused the reload", "worker", p.name, "seq", a.Seq, "error", a.Error)
	}
	m.settle(a.Seq, a.Error != "")
}

// settle counts one worker done with reload seq, and logs the reload
// applied once all are.
func (m *Master) settle(seq int64, failed bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.pending[seq]
	if r == nil {
		return
	}
	if failed {
		r.failed++
	}
	if r.waiting--; r.waiting <= 0 {
		delete(m.pending, seq)
		level := slog.LevelInfo
		if r.failed > 0 {
			level = slog.LevelError
		}
		m.log.Log(context.Background(), level, "ngxtasks: reload applied", "seq", seq, "took", time.Since(r.began), "failed_workers", r.failed)
	}
}

// diff lists the rules added, changed and removed between two files, by
// identifier and fingerprint.
func diff(old, cur *rulefile.File) (added, changed, removed []string) {
	was := make(map[string]string, len(old.Rules))
	for _, r := range old.Rules {
		was[r.ID] = r.Fingerprint
	}
	for _, r := range cur.Rules {
		fp, ok := was[r.ID]
		switch {
		case !ok:
			added = append(added, r.ID)
		case fp != r.Fingerprint:
			changed = append(changed, r.ID)
		}
		delete(was, r.ID)
	}
	for _, r := range old.Rules {
		if _, gone := was[r.ID]; gone {
			removed = append(removed, r.ID)
		}
	}
	return added, changed, removed
}

// warnUnapplied logs the settings a reload does not apply.
func (m *Master) warnUnapplied(f *rulefile.File) {
	old := m.file
	for _, c := range []struct {
		key  string
		same bool
	}{
		{"workers", old.Workers == f.Workers},
		{"dict", old.Dict.Expanded() == f.Dict.Expanded()},
		{"namespace", old.Namespace == f.Namespace},
		{"listen", old.Listen == f.Listen},
		{"state_dir", old.StateDir == f.StateDir},
		{"token_env", old.TokenEnv == f.TokenEnv},
		{"log", old.Log == f.Log},
	} {
		if !c.same {
			m.log.Warn("ngxtasks: a reload does not apply this setting; restart ngxtasks for it", "setting", c.key)
		}
	}
}
