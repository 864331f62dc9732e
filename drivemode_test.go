package ngxtasks_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
)

// TestRuleDriveInMixedManager: one manager driven by its timer loop, by
// requests and by Run calls at once. A rule restricted to requests runs
// only in requests, always with an Exchange, and rewrites their responses
// (the timer used to take every slot); one restricted to the timer runs
// without requests; one restricted to Run only inside Run calls; a rule
// for any drive runs in all of them, once per slot.
func TestRuleDriveInMixedManager(t *testing.T) {
	const interval = 50 * time.Millisecond
	var (
		inRun                                     atomic.Bool
		rewrites, timerRuns, runRuns, anyRuns     atomic.Int64
		rewriteWithout, timerWith, runOutside     atomic.Int64
		anyByRequest, anyByTimerOrRun, rewrittens atomic.Int64
	)
	rule := func(id string, d ngxtasks.Drive, fn func(ngxtasks.Firing)) ngxtasks.Rule {
		return ngxtasks.Rule{Identifier: id, Interval: interval, Type: ngxtasks.Normal, Drive: d,
			Callback: func(_ context.Context, f ngxtasks.Firing) error { fn(f); return nil }}
	}
	m := &ngxtasks.Manager{}
	err := m.Push(
		rule("rewrite", ngxtasks.DriveRequest, func(f ngxtasks.Firing) {
			rewrites.Add(1)
			if f.Exchange == nil {
				rewriteWithout.Add(1)
				return
			}
			f.Exchange.Rewrite(func(r *ngxtasks.Response) { r.Body = []byte("[rewritten]") })
		}),
		rule("timer", ngxtasks.DriveTimer, func(f ngxtasks.Firing) {
			timerRuns.Add(1)
			if f.Exchange != nil || inRun.Load() {
				timerWith.Add(1)
			}
		}),
		rule("run", ngxtasks.DriveRun, func(ngxtasks.Firing) {
			runRuns.Add(1)
			if !inRun.Load() {
				runOutside.Add(1)
			}
		}),
		rule("any", ngxtasks.DriveAny, func(f ngxtasks.Firing) {
			anyRuns.Add(1)
			if f.Exchange != nil {
				anyByRequest.Add(1)
			} else {
				anyByTimerOrRun.Add(1)
			}
		}),
	)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan error, 1)
	go func() { started <- m.Start(ctx) }()
	srv := httptest.NewServer(m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "plain")
	})))
	defer srv.Close()

	begin := time.Now()
	for i := 0; i < 60 && time.Since(begin) < 3*time.Second; i++ { // 60 requests, 10 ms apart
		resp, err := srv.Client().Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if string(body) == "[rewritten]" {
			rewrittens.Add(1)
		}
		if i%10 == 0 {
			inRun.Store(true)
			if err := m.Run(context.Background()); err != nil {
				t.Error(err)
			}
			inRun.Store(false)
		}
		time.Sleep(10 * time.Millisecond)
	}
	elapsed := time.Since(begin)
	cancel()
	if err := <-started; !errors.Is(err, context.Canceled) {
		t.Fatalf("Start returned %v", err)
	}
	if err := m.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	slots := int64(elapsed / interval)
	t.Logf("%v, about %d slots: rewrite %d (responses rewritten %d), timer %d, run %d, any %d (%d by request)",
		elapsed.Round(time.Millisecond), slots, rewrites.Load(), rewrittens.Load(), timerRuns.Load(), runRuns.Load(), anyRuns.Load(), anyByRequest.Load())
	if rewriteWithout.Load() != 0 || timerWith.Load() != 0 || runOutside.Load() != 0 {
		t.Fatalf("a rule ran outside its drive: request rule without a request %d, timer rule in a request or Run %d, Run rule outside Run %d",
			rewriteWithout.Load(), timerWith.Load(), runOutside.Load())
	}
	if rewrites.Load() < slots/2 || rewrittens.Load() != rewrites.Load() {
		t.Errorf("the request rule ran %d times and rewrote %d responses in about %d slots", rewrites.Load(), rewrittens.Load(), slots)
	}
	if timerRuns.Load() < slots/2 || runRuns.Load() == 0 || runRuns.Load() > 6 {
		t.Errorf("timer rule %d runs in about %d slots; Run rule %d runs in 6 Run calls", timerRuns.Load(), slots, runRuns.Load())
	}
	if anyRuns.Load() > slots+3 || anyRuns.Load() < slots/2 { // +3: the slots cut at both ends, and one the loop may take while it stops
		t.Errorf("the rule for any drive ran %d times in about %d slots", anyRuns.Load(), slots)
	}
}

// TestRuleDriveValidated: a Drive out of range, and a request-only rule
// that would run in the background (with no request), are refused, naming
// the field.
func TestRuleDriveValidated(t *testing.T) {
	noop := func(context.Context, ngxtasks.Firing) error { return nil }
	for field, r := range map[string]ngxtasks.Rule{
		"Drive":      {Identifier: "d", Interval: time.Second, Type: ngxtasks.Normal, Callback: noop, Drive: 9},
		"Background": {Identifier: "b", Interval: time.Second, Type: ngxtasks.Normal, Callback: noop, Drive: ngxtasks.DriveRequest, Background: true},
	} {
		var re *ngxtasks.RuleError
		if err := (&ngxtasks.Manager{}).Push(r); !errors.As(err, &re) || re.Field != field {
			t.Errorf("Push(%s) = %v; want a RuleError on %s", r.Identifier, err, field)
		}
	}
	if got := ngxtasks.DriveRequest.String(); got != "request" {
		t.Errorf("DriveRequest.String() = %q", got)
	}
}
