package dicttest_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
	"github.com/ngxtasks/ngxtasks/dicttest"
)

func TestMain(m *testing.M) {
	dicttest.Child()
	os.Exit(m.Run())
}

// memOpener gives each test its own MemoryDict, wrapped by wrap, and the
// same one to every handle the test opens.
func memOpener(wrap func(*ngxtasks.MemoryDict) ngxtasks.Dict) dicttest.Opener {
	var mu sync.Mutex
	dicts := map[string]ngxtasks.Dict{}
	return func(t testing.TB) ngxtasks.Dict {
		mu.Lock()
		defer mu.Unlock()
		if dicts[t.Name()] == nil {
			dicts[t.Name()] = wrap(ngxtasks.NewMemoryDict())
		}
		return dicts[t.Name()]
	}
}

func TestMemoryDictPassesTheSuite(t *testing.T) {
	dicttest.Run(t, memOpener(func(d *ngxtasks.MemoryDict) ngxtasks.Dict { return d }), dicttest.Options{})
}

// faultEnv names the fault TestFaultyDictFailsTheSuite injects, in a process
// of its own.
const faultEnv = "DICTTEST_FAULT"

// The suite must fail dictionaries that break what it checks. Each fault
// runs the subtest that should catch it in a child process, which must fail
// there and say why.
func TestSuiteCatchesEveryInjectedFault(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the suite in child processes")
	}
	for _, c := range []struct {
		fault, run, says string
	}{
		{"racy", "AtomicOneHandle", "want exactly 1"},
		{"racy", "BatchRace", "want exactly 1"},
		{"sticky", "Expiry", "still taken"},
		{"eager", "Expiry", "before its TTL"},
		{"deaf", "Context", "want not stored"},
		{"deafset", "Context", "Set = <nil>; want an error matching"},
		{"unclosable", "Closed", "want ErrClosed"},
		{"cstrings", "Bytes", "want stored"},
		{"processes", "", "stored by 3 processes"},
	} {
		t.Run(c.fault+"/"+c.run, func(t *testing.T) {
			t.Parallel()
			pattern := "^TestFaultyDictFailsTheSuite$"
			if c.run != "" {
				pattern += "/^" + c.run + "$"
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run="+pattern, "-test.v")
			cmd.Env = append(os.Environ(), faultEnv+"="+c.fault)
			out, err := cmd.CombinedOutput()
			failed := "--- FAIL: TestFaultyDictFailsTheSuite"
			if c.run != "" {
				failed += "/" + c.run
			}
			if err == nil || !strings.Contains(string(out), failed) || !strings.Contains(string(out), c.says) {
				t.Errorf("with fault %q, want %q failing with %q; got exit %v:\n%s", c.fault, failed, c.says, err, out)
			}
		})
	}
}

// TestFaultyDictFailsTheSuite runs the suite on a MemoryDict with a fault;
// only TestSuiteCatchesEveryInjectedFault runs it.
func TestFaultyDictFailsTheSuite(t *testing.T) {
	fault := os.Getenv(faultEnv)
	if fault == "" {
		t.Skip("run by TestSuiteCatchesEveryInjectedFault")
	}
	if fault == "processes" {
		// Each process gets a memory of its own: every one wins every key.
		dicttest.RunProcesses(t, "mem://", 3)
		return
	}
	dicttest.Run(t, memOpener(func(d *ngxtasks.MemoryDict) ngxtasks.Dict {
		return &broken{MemoryDict: d, fault: fault}
	}), dicttest.Options{})
}

// broken is a MemoryDict with one fault.
type broken struct {
	*ngxtasks.MemoryDict
	fault string
}

func (b *broken) Add(ctx context.Context, key, value string, ttl time.Duration) (bool, error) {
	switch b.fault {
	case "racy": // checks, then acts: two goroutines can both see the key free
		if _, ok, err := b.MemoryDict.Get(ctx, key); err != nil || ok {
			return false, err
		}
		// A millisecond between check and act, so that the race shows
		// however the goroutines are scheduled (a yield alone once let a
		// 2-core CI run pass it).
		time.Sleep(time.Millisecond)
		_, err := b.MemoryDict.Add(ctx, key, value, ttl)
		return err == nil, err
	case "sticky": // keeps claims ten times too long
		ttl *= 10
	case "eager": // expires claims at half their ttl
		ttl /= 2
	case "deaf": // ignores the context
		ctx = context.Background()
	case "cstrings": // keys end at their first NUL byte
		key, _, _ = strings.Cut(key, "\x00")
	}
	return b.MemoryDict.Add(ctx, key, value, ttl)
}

func (b *broken) Get(ctx context.Context, key string) (string, bool, error) {
	switch b.fault {
	case "deaf":
		ctx = context.Background()
	case "cstrings":
		key, _, _ = strings.Cut(key, "\x00")
	}
	return b.MemoryDict.Get(ctx, key)
}

func (b *broken) Set(ctx context.Context, key, value string, ttl time.Duration) error {
	if b.fault == "deafset" { // Set alone ignores the context
		ctx = context.Background()
	}
	return b.MemoryDict.Set(ctx, key, value, ttl)
}

func (b *broken) AddBatch(ctx context.Context, adds []ngxtasks.Add) error {
	for i := range adds {
		a := &adds[i]
		a.Added, a.Err = b.Add(ctx, a.Key, a.Value, a.TTL)
	}
	return nil
}

func (b *broken) Close() error {
	if b.fault == "unclosable" {
		return nil
	}
	return b.MemoryDict.Close()
}
