package master

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/ngxtasks/ngxtasks/cmd/ngxtasks/internal/rulefile"
	"github.com/ngxtasks/ngxtasks/cmd/ngxtasks/internal/wire"
)

// reload is one reload on its way to the workers.
type reload struct {
	began   time.Time
	waiting int // workers that have not answered
	failed  int
	done    chan struct{} // closed once every worker answered
}

// reloadRequest asks the reloader for a reload; reply, when not nil, gets
// its result.
type reloadRequest struct{ reply chan ReloadResult }

// Bounds of a reload: reading the rule file and its env files may take
// reloadReadTimeout (a file on a hung network file system, say, must not stop
// reloads for good), and the workers' answers are awaited for
// answerTimeout before a reload's result is given with those pending.
const (
	reloadReadTimeout = 10 * time.Second
	answerTimeout     = 30 * time.Second
)

// reloader applies reloads one at a time until ctx is done. It runs beside
// the master's loop, which goes on handling signals and workers whatever a
// reload waits for.
func (m *Master) reloader(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case req := <-m.reloads:
			res := m.reload(ctx)
			if req.reply != nil {
				req.reply <- res
			}
		}
	}
}

// reloadAndWait asks the reloader for a reload and waits for its result.
func (m *Master) reloadAndWait(ctx context.Context) ReloadResult {
	req := reloadRequest{reply: make(chan ReloadResult, 1)}
	select {
	case m.reloads <- req:
	case <-ctx.Done():
		return ReloadResult{Refused: true, Errors: []string{"the master is stopping"}}
	}
	select {
	case res := <-req.reply:
		return res
	case <-ctx.Done():
		return ReloadResult{Refused: true, Errors: []string{"the master is stopping"}}
	}
}

// reload re-reads the rule file and hands it to every worker, which swap
// their rules in one step (ngxtasks.Manager.Replace): rules whose
// definition did not change keep their slot state. A file with mistakes
// is refused, its errors logged, and the old rules keep running. The
// diff is logged, and a line once every worker applied it.
//
// Settings that need new processes or a new listener are not applied by a
// reload; each reload whose file differs from what runs in one logs it.
func (m *Master) reload(ctx context.Context) ReloadResult {
	m.mu.Lock()
	prev := m.file
	m.mu.Unlock()
	f, abs, files, err := m.load(ctx, prev)
	var s Settings
	if err == nil {
		s, err = Resolve(f, m.opts.Overrides)
	}
	if err != nil {
		return m.refuse(err)
	}
	m.addSecrets(f, files)
	restart := m.needRestart(f, s)
	for _, key := range restart {
		m.log.Warn("ngxtasks: a reload does not apply this setting; restart ngxtasks for it", "setting", key)
	}
	m.mu.Lock()
	added, changed, removed := diff(m.file, f)
	m.file = f
	m.snap = wire.Snapshot{Path: abs, Files: files, Started: f.Started.Unix()}
	m.seq++
	seq, snap := m.seq, m.snap
	var sendTo []*proc
	for _, p := range m.workers {
		p.mu.Lock()
		if p.to != nil { // else between processes: the next one gets the file in its hello
			sendTo = append(sendTo, p)
			p.awaited[m.seq] = true // answered by its answer, or by its exit
		}
		p.mu.Unlock()
	}
	r := &reload{began: time.Now(), waiting: len(sendTo), done: make(chan struct{})}
	if len(sendTo) > 0 {
		m.pending[seq] = r
	}
	m.mu.Unlock()
	m.log.Info("ngxtasks: reloading", "rules", len(f.Rules), "added", added, "changed", changed, "removed", removed, "seq", seq)
	res := ReloadResult{Seq: seq, Added: added, Changed: changed, Removed: removed, Restart: restart, Workers: len(sendTo)}
	if len(sendTo) == 0 {
		m.log.Info("ngxtasks: reload applied; no worker runs now, each starts with the new file", "seq", seq)
		return res
	}

	// Sent without holding mu: a worker's answers, read under mu, must
	// never wait for this write.
	line, err := wire.Encode(wire.ToWorker{Config: &snap, Seq: seq})
	if err != nil {
		m.log.Error("ngxtasks: encoding the reload for the workers", "error", err)
		return ReloadResult{Seq: seq, Refused: true, Errors: []string{err.Error()}}
	}
	// To every worker at once: a pipe holds 64 KiB, so a big file goes
	// through in many turns of the reading worker.
	for _, p := range sendTo {
		go func() {
			p.mu.Lock()
			to := p.to
			p.mu.Unlock()
			if to == nil || to.WriteLine(line) != nil {
				p.mu.Lock()
				sent := p.awaited[seq]
				delete(p.awaited, seq)
				p.mu.Unlock()
				if sent { // else its exit answered for it
					m.log.Warn("ngxtasks: a worker exited before the reload; its successor starts with the new file", "worker", p.name)
					m.answered(seq, false)
				}
			}
		}()
	}
	select {
	case <-r.done:
	case <-time.After(answerTimeout):
	case <-ctx.Done():
	}
	m.mu.Lock()
	res.Failed, res.Pending = r.failed, r.waiting
	m.mu.Unlock()
	res.Took = time.Since(r.began)
	return res
}

// load reads the rule file in a goroutine of its own, giving up after
// reloadReadTimeout; a read that is still going refuses the next reloads until
// it returns, so that at most one is ever stuck.
func (m *Master) load(ctx context.Context, prev *rulefile.File) (*rulefile.File, string, rulefile.Files, error) {
	if !m.loading.CompareAndSwap(false, true) {
		return nil, "", nil, fmt.Errorf("the last read of %s has not returned yet", m.opts.Config)
	}
	type loaded struct {
		f     *rulefile.File
		abs   string
		files rulefile.Files
		err   error
	}
	ch := make(chan loaded, 1)
	go func() {
		defer m.loading.Store(false)
		f, abs, files, err := rulefile.LoadFiles(m.opts.Config, prev)
		ch <- loaded{f, abs, files, err}
	}()
	select {
	case l := <-ch:
		return l.f, l.abs, l.files, l.err
	case <-time.After(reloadReadTimeout):
		return nil, "", nil, fmt.Errorf("reading %s took more than %v", m.opts.Config, reloadReadTimeout)
	case <-ctx.Done():
		return nil, "", nil, errors.New("the master is stopping")
	}
}

// refuse logs a refused reload's errors, one a line.
func (m *Master) refuse(err error) ReloadResult {
	res := ReloadResult{Refused: true}
	var list rulefile.Errors
	if errors.As(err, &list) {
		for _, e := range list {
			res.Errors = append(res.Errors, e.Error())
		}
	} else {
		res.Errors = []string{err.Error()}
	}
	for _, e := range res.Errors {
		m.log.Error("ngxtasks: reload refused; the old rules keep running", "error", e)
	}
	return res
}

// reloaded takes a worker's answer to a reload.
func (m *Master) reloaded(p *proc, a *wire.Reloaded) {
	p.mu.Lock()
	delete(p.awaited, a.Seq)
	p.mu.Unlock()
	if a.Error != "" {
		m.log.Error("ngxtasks: a worker refused the reload", "worker", p.name, "seq", a.Seq, "error", a.Error)
	}
	m.answered(a.Seq, a.Error != "")
}

// answered counts one worker done with reload seq — by its answer, or by
// its exit — and logs the reload applied once all are.
func (m *Master) answered(seq int64, failed bool) {
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
		close(r.done) // after the line: the answer never comes before it
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

// needRestart names the settings of f (as resolved, s) that differ from
// what runs: a reload does not apply them. Compared with what runs, not
// with the file before, so that a reload back to what runs says nothing,
// and each reload of a file that still differs says it again.
func (m *Master) needRestart(f *rulefile.File, s Settings) []string {
	run := m.started
	var out []string
	for _, c := range []struct {
		key  string
		same bool
	}{
		{"workers", s.Workers == m.settings.Workers},
		{"dict", s.Dict == m.settings.Dict},
		{"namespace", f.Namespace == run.Namespace},
		{"listen", s.Listen == m.settings.Listen},
		{"state_dir", f.StateDir == run.StateDir},
		{"token_env", f.TokenEnv == run.TokenEnv},
		{"log", f.Log == run.Log},
		{"name", f.Name == run.Name},
		{"store_clock", f.StoreClock == run.StoreClock},
		{"skew_tolerance", f.SkewTolerance == run.SkewTolerance},
		{"metrics", f.Metrics.All == run.Metrics.All && slices.Equal(f.Metrics.Patterns, run.Metrics.Patterns)},
	} {
		if !c.same {
			out = append(out, c.key)
		}
	}
	return out
}
