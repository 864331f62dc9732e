package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

const twoRules = `rules:
  - id: tick
    interval: 1s
    type: normal
    exec: {argv: ["true"]}
  - id: once
    interval: 1s
    type: preemption
    exec: {argv: ["true"]}
`

func TestValidateRefusesBadFilesAndUnsafeSetups(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	writeFile(t, good, twoRules)
	if code, out, errOut := ngxtasks(t, "validate", "-c", good); code != 0 || !strings.Contains(out, "2 rules, ok") {
		t.Fatalf("validate good: %d %q %q", code, out, errOut)
	}

	bad := filepath.Join(dir, "bad.yaml")
	writeFile(t, bad, "rules:\n  - id: a\n    intervall: 1s\n    type: normal\n    exec: {argv: [\"true\"]}\n  - id: b\n    interval: 2x\n    type: sometimes\n    exec: {argv: [\"true\"]}\n")
	code, out, errOut := ngxtasks(t, "validate", "-c", bad)
	want := []string{
		bad + ":3:5: rules[0] (a): unknown field `intervall`, did you mean `interval`?",
		bad + ":7:15: rules[1] (b): interval: \"2x\" is not a duration",
		bad + ":8:11: rules[1] (b): type:",
	}
	if code != 2 || out != "" {
		t.Fatalf("validate bad: exit %d, stdout %q; want 2 and nothing", code, out)
	}
	for _, w := range want {
		if !strings.Contains(errOut, w) {
			t.Errorf("validate bad: stderr lacks %q:\n%s", w, errOut)
		}
	}

	// A run refuses the same file, starting nothing.
	if code, _, errOut := ngxtasks(t, "run", "-c", bad, "--listen", "off"); code != 2 || !strings.Contains(errOut, "did you mean `interval`") {
		t.Fatalf("run bad: exit %d, %q", code, errOut)
	}

	// mem:// cannot decide a preemption rule for several processes.
	code, _, errOut = ngxtasks(t, "validate", "-c", good, "--dict", "mem://", "--workers", "4")
	if code != 2 || !strings.Contains(errOut, `preemption rule "once" would run once per worker`) {
		t.Fatalf("validate mem with 4 workers: exit %d, %q", code, errOut)
	}
	if code, _, errOut := ngxtasks(t, "validate", "-c", good, "--dict", "mem://", "--workers", "1"); code != 0 {
		t.Fatalf("validate mem with one worker: exit %d, %q", code, errOut)
	}

	// A listener beyond loopback needs a token.
	cmd := []string{"validate", "-c", good, "--listen", "0.0.0.0:9999"}
	code, _, errOut = ngxtasks(t, cmd...)
	if code != 2 || !strings.Contains(errOut, "beyond loopback: set a bearer token in $NGXTASKS_TOKEN") {
		t.Fatalf("validate listen 0.0.0.0 without token: exit %d, %q", code, errOut)
	}
}

func TestNextPrintsTheComingSlotsOfARule(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "rules.yaml")
	writeFile(t, path, "rules:\n  - id: hourly\n    interval: 1h\n    offset: 15m\n    type: normal\n    exec: {argv: [\"true\"]}\n")
	code, out, errOut := ngxtasks(t, "next", "-c", path, "-n", "3", "hourly")
	if code != 0 {
		t.Fatalf("next: %d %q", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 {
		t.Fatalf("next printed %q, want a header and 3 lines", out)
	}
	var prev time.Time
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		at, err := time.Parse(time.RFC3339Nano, f[2])
		if err != nil {
			t.Fatalf("next: %q: %v", l, err)
		}
		if at.Minute() != 15 || at.Second() != 0 || at.Before(time.Now()) || (!prev.IsZero() && at.Sub(prev) != time.Hour) {
			t.Fatalf("next: %q is not the next :15 of an hour after %v", l, prev)
		}
		prev = at
	}
	if code, _, errOut := ngxtasks(t, "next", "-c", path, "nope"); code != 2 || !strings.Contains(errOut, `no rule "nope"`) {
		t.Fatalf("next of an unknown rule: %d %q", code, errOut)
	}
}

// TestNextShowsASchedulesStartsAcrossTheChanges: next lists a schedule's
// starts in its zone and in UTC from the instant given, marking the start
// the spring gap moved and the two passes of the autumn's repeated hour,
// as text and as JSON.
func TestNextShowsASchedulesStartsAcrossTheChanges(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "rules.yaml")
	writeFile(t, path, "rules:\n"+
		"  - {id: nightly, schedule: '30 2 * * *', zone: Europe/Berlin, type: preemption, exec: {argv: [\"true\"]}}\n"+
		"  - {id: halfhour, schedule: '*/30 * * * *', zone: Europe/Berlin, type: normal, exec: {argv: [\"true\"]}}\n")
	code, out, errOut := ngxtasks(t, "next", "-c", path, "-n", "2", "--from", "2027-03-28T00:00:00+01:00", "nightly")
	if code != 0 {
		t.Fatalf("next: %d %q", code, errOut)
	}
	for _, want := range []string{
		"nightly  preemption  2027-03-28T03:00:00+02:00  2027-03-28T01:00:00Z  2h0m0s    gap: 2027-03-28 02:30:00 does not exist, run at the change",
		"nightly  preemption  2027-03-29T02:30:00+02:00  2027-03-29T00:30:00Z  25h30m0s",
	} {
		if !strings.Contains(out, want) {
			t.Fatalf("next printed\n%s\nwant a line %q", out, want)
		}
	}
	code, out, errOut = ngxtasks(t, "next", "-c", path, "-n", "4", "--json", "--from", "2027-10-31T01:45:00+02:00", "halfhour")
	if code != 0 {
		t.Fatalf("next --json: %d %q", code, errOut)
	}
	var got []struct {
		Start, UTC string
		Pass       int
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("next --json printed %q: %v", out, err)
	}
	want := []struct {
		Start, UTC string
		Pass       int
	}{
		{"2027-10-31T02:00:00+02:00", "2027-10-31T00:00:00Z", 1},
		{"2027-10-31T02:30:00+02:00", "2027-10-31T00:30:00Z", 1},
		{"2027-10-31T02:00:00+01:00", "2027-10-31T01:00:00Z", 2},
		{"2027-10-31T02:30:00+01:00", "2027-10-31T01:30:00Z", 2},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("next --json: %+v, want %+v", got, want)
	}
}

func TestVersionPrintsAndAnUnknownCommandIsRefused(t *testing.T) {
	t.Parallel()
	if code, out, _ := ngxtasks(t, "version"); code != 0 || !strings.HasPrefix(out, "ngxtasks ") {
		t.Fatalf("version: %d %q", code, out)
	}
	if code, _, errOut := ngxtasks(t, "frobnicate"); code != 2 || !strings.Contains(errOut, `unknown command "frobnicate"`) {
		t.Fatalf("unknown command: %d %q", code, errOut)
	}
}

// TestMasterKilledTakesItsWorkersAndProgramsWithIt: SIGKILL of the master
// takes its workers and their actions' programs with it.
func TestMasterKilledTakesItsWorkersAndProgramsWithIt(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	config := filepath.Join(dir, "rules.yaml")
	writeFile(t, config, fleetFile(dir, nil))
	in := start(t, config, 2, "--stop-timeout", "1s")
	in.waitFor("both long runs", 10*time.Second, func() bool {
		b, _ := os.ReadFile(filepath.Join(dir, "pids"))
		return len(strings.Fields(string(b))) == 4
	})
	pids := readPids(t, filepath.Join(dir, "pids"))
	for _, w := range in.workers() {
		pids = append(pids, w.PID)
	}
	if err := syscall.Kill(in.cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitGone(t, pids, 10*time.Second)
}

// TestStatusReadsTheFleetAndReloadAppliesOnlyAGoodFile runs an instance with
// a token, reads its status through the command and the listener, reloads a
// bad file (refused, the old rules keep running) and a good one through
// `ngxtasks reload`.
func TestStatusReadsTheFleetAndReloadAppliesOnlyAGoodFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	config := filepath.Join(dir, "rules.yaml")
	writeFile(t, config, twoRules)
	token := []string{"NGXTASKS_TOKEN=s3cret-token"} // the instance and the status command read it
	in := startEnv(t, token, config, 2)
	in.waitFor("runs of both rules", 10*time.Second, func() bool {
		n := 0
		for _, l := range in.log.find("ngxtasks: run") {
			if l["rule"] == "once" {
				n++
			}
		}
		return n >= 2
	})

	if code, _ := in.get("status.json"); code != http.StatusUnauthorized {
		t.Fatalf("status.json without the token: %d, want 401", code)
	}
	code, body := in.get("status.json", "Authorization", "Bearer s3cret-token")
	var doc struct {
		Workers []struct{ Worker string }
		Rules   []struct{ Identifier, Worker string }
	}
	if code != http.StatusOK || json.Unmarshal(body, &doc) != nil {
		t.Fatalf("status.json: %d %.300s", code, body)
	}
	if len(doc.Workers) != 2 || len(doc.Rules) != 4 {
		t.Fatalf("status.json: %d workers, %d (rule, worker) rows; want 2 and 4", len(doc.Workers), len(doc.Rules))
	}
	code, body = in.get("metrics", "Authorization", "Bearer s3cret-token")
	if code != http.StatusOK || !strings.Contains(string(body), `ngxtasks_worker_runs_total{`) || !strings.Contains(string(body), "ngxtasks_worker_processes_up 2") {
		t.Fatalf("metrics: %d %.500s", code, body)
	}
	for _, w := range doc.Workers {
		if !strings.Contains(string(body), `worker="`+w.Worker+`"`) {
			t.Errorf("metrics lack worker %s", w.Worker)
		}
	}

	listen := strings.TrimSuffix(strings.TrimPrefix(in.url, "http://"), "/")
	if code, _, errOut := ngxtasks(t, "status", "-c", config, "--listen", listen); code != 1 || !strings.Contains(errOut, "401") {
		t.Fatalf("ngxtasks status without the token: %d %q", code, errOut)
	}
	code, out, errOut := ngxtasksEnv(t, token, "status", "-c", config, "--listen", listen)
	if code != 0 || !strings.Contains(out, "RESTARTS") || strings.Count(out, "\ntick ") != 2 || strings.Count(out, "\nonce ") != 2 {
		t.Fatalf("ngxtasks status: %d\n%s\n%s", code, out, errOut)
	}
	// Without --listen it asks the master of the file's state_dir, which
	// needs no token.
	code, out, errOut = ngxtasks(t, "status", "-c", config)
	if code != 0 || !strings.Contains(out, "RESTARTS") || strings.Count(out, "\ntick ") != 2 {
		t.Fatalf("ngxtasks status over the control socket: %d\n%s\n%s", code, out, errOut)
	}

	// A bad file is refused; the old rules keep running.
	writeFile(t, config, twoRules+"  - id: broken\n    interval: soon\n")
	if code, _, errOut := ngxtasks(t, "reload", "-c", config); code != 2 || !strings.Contains(errOut, "soon") {
		t.Fatalf("reload of a bad file: %d %q; want it refused before signalling", code, errOut)
	}
	in.signal(syscall.SIGHUP) // the master refuses it too
	in.waitFor("the refusal", 10*time.Second, func() bool {
		return len(in.log.find("ngxtasks: reload refused; the old rules keep running")) > 0
	})
	runs := len(in.log.find("ngxtasks: run"))
	in.waitFor("runs after the refusal", 10*time.Second, func() bool { return len(in.log.find("ngxtasks: run")) >= runs+4 })

	writeFile(t, config, strings.Replace(twoRules, "id: tick", "id: tock", 1))
	// ngxtasks reload answers once every worker applied it.
	if code, out, errOut := ngxtasks(t, "reload", "-c", config); code != 0 || !strings.Contains(out, "2 worker(s)") ||
		!strings.Contains(out, "added: tock") || !strings.Contains(out, "removed: tick") {
		t.Fatalf("ngxtasks reload: %d %q %q", code, out, errOut)
	}
	// The master logs it before it answers, but its log reaches this test
	// through a pipe, on a goroutine of its own.
	in.waitFor("the reload applied", 10*time.Second, func() bool { return len(in.log.find("ngxtasks: reload applied")) >= 1 })
	if n := len(in.log.find("ngxtasks: reload applied")); n != 1 {
		t.Fatalf("%d lines 'reload applied' once ngxtasks reload returned; want 1", n)
	}
	l := in.log.find("ngxtasks: reloading")[0]
	if added, removed := l["added"], l["removed"]; !equalJSON(added, []any{"tock"}) || !equalJSON(removed, []any{"tick"}) {
		t.Fatalf("reload diff: %v", l)
	}
	in.waitFor("a run of the new rule", 10*time.Second, func() bool {
		for _, l := range in.log.find("ngxtasks: run") {
			if l["rule"] == "tock" {
				return true
			}
		}
		return false
	})
	if strings.Contains(in.log.String(), "s3cret-token") {
		t.Fatal("the token is in the log")
	}
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// TestSecretsStayHidden runs http and exec rules whose secrets come from
// the environment and an env file, failing: neither the log, nor the
// status documents, nor the metrics show a secret.
func TestSecretsStayHidden(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	config := filepath.Join(dir, "rules.yaml")
	writeFile(t, filepath.Join(dir, "secrets.env"), "API_TOKEN=hunter2-token\n")
	writeFile(t, config, `env_file: secrets.env
rules:
  - id: hook
    interval: 1s
    type: normal
    http:
      method: POST
      url: http://127.0.0.1:1/hook?key=${HOOK_KEY}
      headers: {Authorization: "Bearer ${API_TOKEN}"}
      body: '{"key": "${HOOK_KEY}"}'
  - id: script
    interval: 1s
    type: normal
    exec:
      argv: ["false"]
      env: {KEY: "${HOOK_KEY}"}
  - id: token
    interval: 1s
    type: normal
    exec:
      argv: [sh, -c, 'echo "token=$NGXTASKS_TOKEN"']
  - id: host
    interval: 1s
    type: normal
    http:
      url: http://${SECRET_HOST}.invalid/
      timeout: 5s
  - id: printenv
    interval: 1s
    type: normal
    exec:
      argv: [sh, -c, 'echo "key=$KEY"; exit 3']
      env: {KEY: "${HOOK_KEY}"}
  - id: big
    interval: 1s
    type: normal
    exec:
      argv: [sh, -c, 'head -c 100000 /dev/zero | tr "\\0" x; echo; exit 1']
`)
	in := startEnv(t, []string{"HOOK_KEY=hunter2-key", "NGXTASKS_TOKEN=tok-hunter2", "SECRET_HOST=hunter2-host"}, config, 1)
	in.waitFor("failed runs of hook, script, host, printenv and big, a run of token", 20*time.Second, func() bool {
		seen := map[any]bool{}
		for _, l := range in.log.find("ngxtasks: run") {
			if l["result"] == "failed" || l["rule"] == "token" {
				seen[l["rule"]] = true
			}
		}
		return seen["hook"] && seen["script"] && seen["token"] && seen["host"] && seen["printenv"] && seen["big"]
	})
	// A run's line stays within journald's line limit (48 KiB), its
	// output cut to fit.
	for _, line := range strings.Split(in.log.String(), "\n") {
		if len(line) > 40<<10 {
			t.Errorf("a log line of %d bytes: %.200s…", len(line), line)
		}
	}
	for _, l := range in.log.find("ngxtasks: run") {
		if out, _ := l["output"].(string); l["rule"] == "big" && !strings.Contains(out, "bytes dropped") {
			t.Errorf("big's output is not cut: %.200s", out)
		}
	}
	auth := []string{"Authorization", "Bearer tok-hunter2"}
	_, status := in.get("status.json", auth...)
	_, metrics := in.get("metrics", auth...)
	for name, text := range map[string]string{"log": in.log.String(), "status.json": string(status), "metrics": string(metrics)} {
		for _, secret := range []string{"hunter2"} {
			if strings.Contains(text, secret) {
				t.Errorf("the %s shows a secret:\n%s", name, text)
			}
		}
	}
	var tokenRun map[string]any
	for _, l := range in.log.find("ngxtasks: run") {
		if l["rule"] == "token" {
			tokenRun = l
		}
	}
	if tokenRun == nil || tokenRun["output"] != "token=" {
		t.Errorf("an action's program got the listener's token, or did not run: %v", tokenRun)
	}
	if !strings.Contains(in.log.String(), "hook?key=${HOOK_KEY}") {
		t.Errorf("the log does not name the failing URL by its template:\n%s", in.log)
	}
}

// TestWorkerThatCannotStartIsRestartedWithDoublingWaits: a worker that
// cannot start is restarted less and less often, each restart counted and
// logged.
func TestWorkerThatCannotStartIsRestartedWithDoublingWaits(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	config := filepath.Join(dir, "rules.yaml")
	writeFile(t, config, twoRules)
	// The workers' status sockets go below TMPDIR; a path longer than a
	// Unix socket's 108 bytes makes every worker exit at once.
	long := filepath.Join(dir, strings.Repeat("d", 120))
	if err := os.Mkdir(long, 0o755); err != nil {
		t.Fatal(err)
	}
	args := []string{"run", "-c", config, "--listen", "off", "--log-format", "json", "--workers", "1"}
	in := startArgs(t, []string{"TMPDIR=" + long}, args)
	in.waitFor("four restarts", 20*time.Second, func() bool {
		return len(in.log.find("ngxtasks: worker exited; restarting")) >= 4
	})
	var waits []float64
	for _, l := range in.log.find("ngxtasks: worker exited; restarting")[:4] {
		waits = append(waits, l["in"].(float64))
		if !strings.Contains(l["error"].(string), "exit status 1") {
			t.Errorf("restart line %v does not say how the worker ended", l)
		}
	}
	for i := 1; i < len(waits); i++ {
		if waits[i] != 2*waits[i-1] {
			t.Fatalf("backoffs %v (ns) do not double", waits)
		}
	}
	// A reload while no worker is up (or while one is dying) is applied,
	// and says so.
	in.signal(syscall.SIGHUP)
	in.waitFor("the reload applied", 20*time.Second, func() bool {
		return len(in.log.find("ngxtasks: reload applied"))+len(in.log.find("ngxtasks: reload applied; no worker runs now, each starts with the new file")) == 1
	})
	in.signal(syscall.SIGTERM)
	if err := in.wait(10 * time.Second); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
}

// TestDingDongExampleDingsInEveryWorkerAndDongsInOne runs the README's first
// command's rule file (in a copy, so that its dictionary lands in a
// temporary directory): DING from every worker each slot, each DONG from
// one.
func TestDingDongExampleDingsInEveryWorkerAndDongsInOne(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("../../examples/dingdong.yaml")
	if err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(t.TempDir(), "dingdong.yaml")
	writeFile(t, config, string(data))
	in := start(t, config, 4)
	in.waitFor("two DONG slots and three DING slots in every worker", 20*time.Second, func() bool {
		dongs, dings := map[any]bool{}, map[any]int{}
		for _, l := range in.log.find("ngxtasks: run") {
			if l["rule"] == "DONG" {
				dongs[l["slot"]] = true
			} else {
				dings[l["slot"]]++
			}
		}
		full := 0
		for _, n := range dings {
			if n == 4 {
				full++
			}
		}
		return len(dongs) >= 2 && full >= 3
	})
	in.signal(syscall.SIGTERM)
	if err := in.wait(15 * time.Second); err != nil {
		t.Fatalf("exit: %v", err)
	}
	type key struct{ rule, slot any }
	workers := map[key]map[any]int{}
	for _, l := range in.log.find("ngxtasks: run") {
		k := key{l["rule"], l["slot"]}
		if workers[k] == nil {
			workers[k] = map[any]int{}
		}
		workers[k][l["worker"]]++
		if l["result"] != "ok" || l["output"] != l["rule"] {
			t.Errorf("run %v: want result ok and the rule's name as output", l)
		}
	}
	dings := 0
	for k, ws := range workers {
		for w, n := range ws {
			if n != 1 {
				t.Errorf("%v ran %d times in %v", k, n, w)
			}
		}
		switch k.rule {
		case "DONG":
			if len(ws) != 1 {
				t.Errorf("DONG slot %v ran in %d workers, want one", k.slot, len(ws))
			}
		case "DING":
			if len(ws) == 4 {
				dings++
			}
		}
	}
	if dings < 3 {
		t.Errorf("%d DING slots ran in all 4 workers, want at least 3", dings)
	}
}

// TestNamespaceKeepsFilesApart runs two instances on one dictionary with
// the same preemption rule: with namespaces of their own, each runs every
// slot.
func TestNamespaceKeepsFilesApart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	dict := "sqlite://" + filepath.Join(dir, "shared.db")
	var ins []*instance
	for _, ns := range []string{"team-a", "team-b"} {
		config := filepath.Join(dir, ns+".yaml")
		writeFile(t, config, "namespace: "+ns+"\nstate_dir: "+filepath.Join(dir, ns)+"\nrules:\n  - {id: once, interval: 1s, type: preemption, exec: {argv: [\"true\"]}}\n")
		ins = append(ins, start(t, config, 1, "--dict", dict))
	}
	ran := func(in *instance) map[any]bool {
		out := map[any]bool{}
		for _, l := range in.log.find("ngxtasks: run") {
			out[l["slot"]] = true
		}
		return out
	}
	ins[0].waitFor("three slots run by both", 15*time.Second, func() bool {
		a, b := ran(ins[0]), ran(ins[1])
		both := 0
		for s := range a {
			if b[s] {
				both++
			}
		}
		return both >= 3
	})
}

// TestLogsAreJSON: with log format json, every line of the instance is
// JSON, those of the store's client library too (go-redis reports a
// closed port by itself).
func TestLogsAreJSON(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	config := filepath.Join(dir, "rules.yaml")
	writeFile(t, config, twoRules)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	in := start(t, config, 1, "--dict", "redis://"+closed+"/0")
	in.waitFor("the store's failure reported", 20*time.Second, func() bool {
		return len(in.log.find("ngxtasks: the dictionary does not open; normal rules run, preemption slots are skipped until it does")) > 0
	})
	time.Sleep(2 * time.Second) // the client retries meanwhile
	in.log.mu.Lock()
	defer in.log.mu.Unlock()
	for _, line := range strings.Split(strings.TrimSpace(in.log.raw.String()), "\n") {
		var v map[string]any
		if json.Unmarshal([]byte(line), &v) != nil {
			t.Errorf("not a JSON line: %q", line)
		}
	}
}

// TestReloadNamesTheSettingsOnlyARestartApplies: a reload that changes a
// setting only a restart applies says so, each time the file differs from
// what runs, and not when it is back to it.
func TestReloadNamesTheSettingsOnlyARestartApplies(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	config := filepath.Join(dir, "rules.yaml")
	writeFile(t, config, "workers: 1\n"+twoRules)
	in := startArgs(t, nil, []string{"run", "-c", config, "--listen", "off", "--log-format", "json"})
	in.waitFor("the worker", 20*time.Second, func() bool { return len(in.log.find("ngxtasks: worker ready")) == 1 })
	for i, c := range []struct {
		head, want string // want: the settings named, "" for none
	}{
		{"workers: 2\nname: other\n", "workers, name"},
		{"workers: 2\n", "workers"},
		{"workers: 1\n", ""},
	} {
		writeFile(t, config, c.head+twoRules)
		code, out, errOut := ngxtasks(t, "reload", "-c", config)
		named := ""
		if _, after, ok := strings.Cut(errOut, "apply only at a restart: "); ok {
			named, _, _ = strings.Cut(after, "\n")
		}
		if code != 0 || named != c.want {
			t.Fatalf("reload %d: %d %q %q; want the settings %q named", i, code, out, errOut, c.want)
		}
	}
	in.waitFor("the warnings logged", 10*time.Second, func() bool {
		return len(in.log.find("ngxtasks: a reload does not apply this setting; restart ngxtasks for it")) == 3
	})
}

// TestMetricsRulesGivesSeriesOnlyToTheRulesItNames: the rule file's metrics:
// {rules: […]} gives the rules it names series of their own; the others are
// in the totals only.
func TestMetricsRulesGivesSeriesOnlyToTheRulesItNames(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	config := filepath.Join(dir, "rules.yaml")
	writeFile(t, config, "metrics: {rules: [on*]}\n"+twoRules)
	in := start(t, config, 1)
	in.waitFor("runs of both rules", 10*time.Second, func() bool { return len(in.log.find("ngxtasks: run")) >= 2 })
	_, body := in.get("metrics")
	text := string(body)
	if !strings.Contains(text, `ngxtasks_runs_total{result="success",rule="once"`) || strings.Contains(text, `rule="tick"`) ||
		!strings.Contains(text, `ngxtasks_worker_runs_total{result="success",type="normal"`) {
		t.Fatalf("metrics with rules [on*]:\n%s", text)
	}
}

// TestStoreDownAtStartRunsNormalRulesAndWaitsForPreemption: a worker whose
// dictionary does not open still runs the normal rules, skips the preemption
// slots (reported), and takes them once the dictionary opens.
func TestStoreDownAtStartRunsNormalRulesAndWaitsForPreemption(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	config := filepath.Join(dir, "rules.yaml")
	writeFile(t, config, twoRules)
	store := filepath.Join(dir, "not-yet")
	in := start(t, config, 1, "--dict", "sqlite://"+filepath.Join(store, "dict.db"))
	runsOf := func(rule string) int {
		n := 0
		for _, l := range in.log.find("ngxtasks: run") {
			if l["rule"] == rule {
				n++
			}
		}
		return n
	}
	in.waitFor("normal runs while the store is down", 10*time.Second, func() bool { return runsOf("tick") >= 2 })
	if n := runsOf("once"); n != 0 || len(in.log.find("ngxtasks: the dictionary does not open; normal rules run, preemption slots are skipped until it does")) != 1 {
		t.Fatalf("preemption runs %d before the store opened; or no log line saying why", n)
	}
	if err := os.Mkdir(store, 0o755); err != nil {
		t.Fatal(err)
	}
	in.waitFor("preemption runs once the store opens", 20*time.Second, func() bool { return runsOf("once") >= 1 })
	if len(in.log.find("ngxtasks: the dictionary is open")) != 1 {
		t.Fatal("no log line saying the dictionary opened")
	}
	if w := in.workers()[0]; w.Restarts != 0 {
		t.Fatalf("the worker restarted %d times; it should have waited for the store", w.Restarts)
	}
}

// TestTokenStaysWithTheMaster: rules may not use the listener's token,
// which workers and programs never get.
func TestTokenStaysWithTheMaster(t *testing.T) {
	t.Parallel()
	config := filepath.Join(t.TempDir(), "rules.yaml")
	writeFile(t, config, "rules:\n  - {id: a, interval: 1s, type: normal, exec: {argv: [\"true\"], env: {T: \"${NGXTASKS_TOKEN}\"}}}\n")
	code, _, errOut := ngxtasksEnv(t, []string{"NGXTASKS_TOKEN=x"}, "validate", "-c", config)
	if code != 2 || !strings.Contains(errOut, "the rules use ${NGXTASKS_TOKEN}, the listener's token") {
		t.Fatalf("validate: %d %q", code, errOut)
	}
}

// TestFlagMistakesAreReportedWithTheFilesAllAtOnce: the command line's
// mistakes are reported with the file's, all at once, and each override is
// held to the rule the file's own setting follows.
func TestFlagMistakesAreReportedWithTheFilesAllAtOnce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	config := filepath.Join(dir, "rules.yaml")
	writeFile(t, config, "rules:\n  - id: a\n    interval: soon\n    type: normal\n    exec: {argv: [\"true\"]}\n")
	code, _, errOut := ngxtasks(t, "run", "-c", config, "--workers", "0", "--stop-timeout", "-1s", "--listen", "39403")
	for _, want := range []string{`"soon" is not a duration`, "--workers: must be between 1 and 1024, got 0", "--stop-timeout: must not be negative, got -1s"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("run with a bad file and bad flags: the errors do not say %q:\n%s", want, errOut)
		}
	}
	if code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
	writeFile(t, config, "rules: []\n")
	code, _, errOut = ngxtasks(t, "validate", "-c", config, "--listen", "39403")
	if code != 2 || !strings.Contains(errOut, `listen "39403" is not host:port or off`) || strings.Contains(errOut, "<nil>") {
		t.Errorf("validate --listen 39403: %d %q", code, errOut)
	}
	code, _, errOut = ngxtasks(t, "validate", "-c", config, "--workers", "0")
	if code != 2 || !strings.Contains(errOut, "--workers: must be between 1 and 1024, got 0") {
		t.Errorf("validate --workers 0: %d %q", code, errOut)
	}
}
