package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPauseResumeAndTriggerReachEveryWorker: `ngxtasks pause RULE --note`
// on a running instance of three worker processes makes every worker skip
// the rule's slots as paused, with the note and the command's origin,
// within about a second; `ngxtasks resume` runs it again; `ngxtasks
// trigger` runs a rule that would not run for a year, once, and a second
// trigger right after is refused as already triggered; a paused rule's
// trigger is refused with the note unless forced; an unknown rule is
// refused; the listener takes the same actions (--listen). Each action is
// logged by the master with its origin and note.
func TestPauseResumeAndTriggerReachEveryWorker(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	trace := filepath.Join(dir, "trace")
	config := filepath.Join(dir, "rules.yaml")
	writeFile(t, config, fmt.Sprintf(`log: {level: debug}
rules:
  - id: tick
    interval: 200ms
    type: normal
    exec: {argv: ["true"]}
  - id: job
    schedule: "0 0 1 1 *"
    type: preemption
    exec:
      shell: true
      command: 'echo "run $NGXTASKS_WORKER" >> %s'
`, trace))
	const workers = 3
	in := start(t, config, workers)
	var names []string
	for _, w := range in.workers() {
		names = append(names, w.Name)
	}
	runsOf := func(rule string) map[string]int {
		n := map[string]int{}
		for _, l := range in.log.find("ngxtasks: run") {
			if l["rule"] == rule {
				n[l["worker"].(string)]++
			}
		}
		return n
	}
	in.waitFor("tick running in every worker", 10*time.Second, func() bool { return len(runsOf("tick")) == workers })

	code, out, errOut := ngxtasks(t, "pause", "-c", config, "tick", "--note", "deploy 42")
	paused := time.Now()
	if code != 0 || strings.TrimSpace(out) != "paused tick: deploy 42" {
		t.Fatalf("ngxtasks pause: %d %q %q", code, out, errOut)
	}
	uid := fmt.Sprintf("ngxtasks pause (cli, uid %d, pid ", os.Getuid())
	skippedIn := func() map[string]bool {
		seen := map[string]bool{}
		for _, l := range in.log.find("ngxtasks: skipped") {
			e, _ := l["error"].(string)
			if l["rule"] == "tick" && l["reason"] == "paused" && strings.Contains(e, "deploy 42") && strings.Contains(e, uid) {
				seen[l["worker"].(string)] = true
			}
		}
		return seen
	}
	in.waitFor("tick skipped as paused in every worker", 5*time.Second, func() bool { return len(skippedIn()) == workers })
	if took := time.Since(paused); took > 2*time.Second {
		t.Errorf("every worker skipped tick as paused %v after the pause; want about a second", took)
	}
	for _, name := range names {
		if !skippedIn()[name] {
			t.Errorf("worker %s did not skip tick as paused", name)
		}
	}
	before := runsOf("tick")
	time.Sleep(time.Second)
	if after := runsOf("tick"); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("tick ran while paused: runs %v, then %v", before, after)
	}
	done := in.log.find("ngxtasks: action done")
	if len(done) != 1 || done[0]["action"] != "pause" || done[0]["note"] != "deploy 42" || !strings.HasPrefix(done[0]["origin"].(string), uid) {
		t.Errorf("the master's log of the pause: %v", done)
	}

	if code, out, errOut := ngxtasks(t, "resume", "-c", config, "--note", "deployed", "tick"); code != 0 || strings.TrimSpace(out) != "resumed tick: deployed" {
		t.Fatalf("ngxtasks resume: %d %q %q", code, out, errOut)
	}
	in.waitFor("tick running again in every worker", 5*time.Second, func() bool {
		now := runsOf("tick")
		for _, name := range names {
			if now[name] <= before[name] {
				return false
			}
		}
		return true
	})

	if code, out, errOut := ngxtasks(t, "trigger", "-c", config, "job"); code != 0 || strings.TrimSpace(out) != "triggered job" {
		t.Fatalf("ngxtasks trigger: %d %q %q", code, out, errOut)
	}
	code, out, errOut = ngxtasks(t, "trigger", "-c", config, "job")
	if code != 1 || out != "" || !strings.Contains(errOut, "ngxtasks trigger: already triggered: job was triggered within the last second") {
		t.Errorf("a second trigger at once: %d %q %q; want 1, already triggered", code, out, errOut)
	}
	in.waitFor("the triggered run", 10*time.Second, func() bool { return len(runsOf("job")) == 1 })
	time.Sleep(500 * time.Millisecond)
	if data, _ := os.ReadFile(trace); strings.Count(string(data), "run ") != 1 {
		t.Errorf("job ran %d times; want once:\n%s", strings.Count(string(data), "run "), data)
	}

	if code, _, errOut := ngxtasks(t, "trigger", "-c", config, "nope"); code != 1 || !strings.Contains(errOut, `no such rule "nope"`) {
		t.Errorf("trigger of an unknown rule: %d %q", code, errOut)
	}
	// Through the listener: the same actions and reasons.
	listen := strings.TrimSuffix(strings.TrimPrefix(in.url, "http://"), "/")
	if code, out, errOut := ngxtasks(t, "pause", "-c", config, "--listen", listen, "job", "--until", "1h", "--note", "quiet please"); code != 0 || !strings.HasPrefix(out, "paused job until ") {
		t.Fatalf("ngxtasks pause --listen: %d %q %q", code, out, errOut)
	}
	time.Sleep(1100 * time.Millisecond) // the last trigger's second ends
	code, _, errOut = ngxtasks(t, "trigger", "-c", config, "job")
	if code != 1 || !strings.Contains(errOut, "ngxtasks trigger: paused by status page from 127.0.0.1:") || !strings.Contains(errOut, ": quiet please") {
		t.Errorf("trigger of a paused rule: %d %q; want 1, paused by the status page with the note", code, errOut)
	}
	if code, out, errOut := ngxtasks(t, "trigger", "-c", config, "--listen", listen, "--force", "job"); code != 0 || strings.TrimSpace(out) != "triggered job (forced)" {
		t.Errorf("forced trigger through the listener: %d %q %q", code, out, errOut)
	}
	in.waitFor("the forced run", 10*time.Second, func() bool { return len(runsOf("job")) >= 1 && countRuns(trace) == 2 })

	for _, args := range [][]string{
		{"pause", "-c", config},
		{"pause", "-c", config, "a", "b"},
		{"pause", "-c", config, "tick", "--until", "yesterday"},
		{"trigger", "-c", config, "tick", "--note", "x"},
	} {
		if code, _, errOut := ngxtasks(t, args...); code != 2 {
			t.Errorf("ngxtasks %q: %d %q; want 2", args, code, errOut)
		}
	}
	refused := in.log.find("ngxtasks: action refused")
	if len(refused) < 3 {
		t.Errorf("the master logged %d refused actions; want 3 (already triggered, no rule, paused)", len(refused))
	}
}

func countRuns(path string) int {
	data, _ := os.ReadFile(path)
	return strings.Count(string(data), "run ")
}

// TestListenerActionsAreGuarded: the listener's act document takes POST
// alone, and refuses, before it reaches a worker, a request for another
// host name (DNS rebinding, without a token), one from another origin and
// one without the page's action token.
func TestListenerActionsAreGuarded(t *testing.T) {
	t.Parallel()
	in, _ := quietInstance(t)
	for _, c := range []struct {
		name, method, host string
		code               int
		header             []string
	}{
		{"GET", http.MethodGet, "", http.StatusMethodNotAllowed, nil},
		{"a rebound host name", http.MethodPost, "evil.test", http.StatusForbidden, []string{"Origin", "http://evil.test"}},
		{"another origin", http.MethodPost, "", http.StatusForbidden, []string{"Origin", "http://localhost:1"}},
		{"no action token", http.MethodPost, "", http.StatusForbidden, []string{"Content-Type", "application/json"}},
	} {
		if code, _, body := in.request(c.method, "act", c.host, c.header...); code != c.code {
			t.Errorf("%s: %d %.200s; want %d", c.name, code, body, c.code)
		}
	}
	if n := len(in.log.find("ngxtasks: action done")) + len(in.log.find("ngxtasks: action refused")); n != 0 {
		t.Errorf("%d actions reached the master", n)
	}
}

// TestTwoHostsSharingADictionaryObeyOnePauseAndReportTheirDisagreement:
// two instances (two masters, as on two hosts) share one dictionary and
// namespace; their files differ in one rule. A pause given to one
// instance's master is obeyed by the other's workers too, and the rule
// whose definitions differ is reported as a disagreement, by tags.
func TestTwoHostsSharingADictionaryObeyOnePauseAndReportTheirDisagreement(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	dict := "sqlite://" + filepath.Join(dir, "shared.db")
	var ins []*instance
	var configs []string
	for _, host := range []string{"east", "west"} {
		config := filepath.Join(dir, host+".yaml")
		writeFile(t, config, fmt.Sprintf(`name: %[1]s
state_dir: %[2]s
log: {level: debug}
rules:
  - {id: tick, interval: 200ms, type: normal, exec: {argv: ["true"]}}
  - {id: job, interval: 300ms, type: preemption, exec: {argv: ["echo", "%[1]s"]}}
`, host, filepath.Join(dir, host)))
		configs = append(configs, config)
		ins = append(ins, start(t, config, 2, "--dict", dict))
	}
	code, out, errOut := ngxtasks(t, "pause", "-c", configs[0], "tick", "--note", "across hosts")
	if code != 0 {
		t.Fatalf("ngxtasks pause: %d %q %q", code, out, errOut)
	}
	pausedIn := func(in *instance) map[string]bool {
		seen := map[string]bool{}
		for _, l := range in.log.find("ngxtasks: skipped") {
			if e, _ := l["error"].(string); l["rule"] == "tick" && l["reason"] == "paused" && strings.Contains(e, "across hosts") {
				seen[l["worker"].(string)] = true
			}
		}
		return seen
	}
	ins[1].waitFor("the other host's workers skipping tick as paused", 10*time.Second, func() bool { return len(pausedIn(ins[1])) == 2 })
	disagrees := func() bool {
		for _, in := range ins {
			for _, l := range in.log.find("ngxtasks: the fleet disagrees about a rule: another worker claims its slots under another definition") {
				if l["rule"] == "job" && l["ours"] != l["theirs"] {
					return true
				}
			}
		}
		return false
	}
	ins[0].waitFor("the rule whose definitions differ reported", 15*time.Second, disagrees)
}
