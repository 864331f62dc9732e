package sqlitedict

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
)

const hammerEnv = "NGXTASKS_SQLITE_HAMMER"

// hammerChild, in a process TestProcessesKilledMidClaimLeaveTheFileSound
// started, claims keys k0, k1, ... in turn, alone and in batches, printing
// each it stored, until it is killed (or a minute passes).
func hammerChild() {
	path := os.Getenv(hammerEnv)
	if path == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d, err := OpenFile(ctx, path, WithCleanupInterval(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, "hammer:", err)
		os.Exit(1)
	}
	me := strconv.Itoa(os.Getpid())
	say := func(k string) { _, _ = os.Stdout.WriteString("won " + k + " " + me + "\n") } // unbuffered
	for i := 0; ctx.Err() == nil && i < 10_000_000; {
		if i%3 == 0 { // a batch of 20
			adds := make([]ngxtasks.Add, 20)
			for j := range adds {
				adds[j] = ngxtasks.Add{Key: "k" + strconv.Itoa(i+j), Value: me, TTL: time.Hour}
			}
			if err := d.AddBatch(ctx, adds); err != nil {
				continue
			}
			for _, a := range adds {
				if a.Added {
					say(a.Key)
				}
			}
			i += len(adds)
			continue
		}
		k := "k" + strconv.Itoa(i)
		if added, err := d.Add(ctx, k, me, time.Hour); err == nil {
			if added {
				say(k)
			}
			i++
		}
	}
	os.Exit(0)
}

// TestProcessesKilledMidClaimLeaveTheFileSound: processes claiming in one
// file are killed with SIGKILL again and again, mid-claim. Then the file is
// not locked (a claim succeeds at once), passes SQLite's integrity check,
// and no key was stored by two processes.
func TestProcessesKilledMidClaimLeaveTheFileSound(t *testing.T) {
	path := filepath.Join(t.TempDir(), "claims.db")
	// Create the file first, so that children do not race to set it up.
	d0, err := OpenFile(context.Background(), path, WithCleanupInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	_ = d0.Close()

	var (
		mu      sync.Mutex
		winners = map[string][]string{}
		readers sync.WaitGroup
	)
	start := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), hammerEnv+"="+path)
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		readers.Go(func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				if f := strings.Fields(sc.Text()); len(f) == 3 && f[0] == "won" {
					mu.Lock()
					winners[f[1]] = append(winners[f[1]], f[2])
					mu.Unlock()
				}
			}
		})
		return cmd
	}
	procs := make([]*exec.Cmd, 4)
	for i := range procs {
		procs[i] = start()
	}
	t.Cleanup(func() {
		for _, p := range procs {
			_ = p.Process.Kill()
		}
	})
	// About 25 kills: at most 30, in at most 4 s.
	kills := 0
	for end := time.Now().Add(4 * time.Second); kills < 30 && time.Now().Before(end); kills++ {
		time.Sleep(100*time.Millisecond + rand.N(100*time.Millisecond))
		i := rand.N(len(procs))
		_ = procs[i].Process.Signal(syscall.SIGKILL)
		_ = procs[i].Wait()
		procs[i] = start()
	}
	for _, p := range procs {
		_ = p.Process.Signal(syscall.SIGKILL)
		_ = p.Wait()
	}
	readers.Wait()

	ctx := context.Background()
	d, err := OpenFile(ctx, path, WithBusyTimeout(2*time.Second), WithCleanupInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	began := time.Now()
	if added, err := d.Add(ctx, "after", "v", time.Minute); err != nil || !added {
		t.Fatalf("Add after the kills = %v, %v", added, err)
	}
	if waited := time.Since(began); waited > time.Second {
		t.Errorf("the first claim after the kills waited %v: a lock was left behind", waited)
	}
	var check string
	if err := d.r.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
		t.Fatalf("integrity_check = %q, %v", check, err)
	}
	for k, w := range winners {
		if len(w) > 1 {
			t.Errorf("%s stored by %d processes %v", k, len(w), w)
			continue
		}
		if v, ok, err := d.Get(ctx, k); err != nil || !ok || v != w[0] {
			t.Errorf("Get(%s) = %q, %v, %v; want %s", k, v, ok, err, w[0])
		}
	}
	if len(winners) < 100 {
		t.Errorf("only %d keys claimed: the processes hardly worked", len(winners))
	}
	t.Logf("%d processes killed with SIGKILL; %d keys claimed, none twice; integrity ok", kills, len(winners))
}
