package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The command runs ngx_tasks Lua rule files (docs/migrating.md): the
// seed's DING/DONG rules, as the seed's README writes them, in worker
// processes on the default SQLite dictionary; validate reports a bad
// file's mistakes with file and line; a reload takes an edited file.

// seedDingDong is the seed README's DING/DONG rules, verbatim.
func seedDingDong(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("testdata/seed/dingdong.lua")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// slotOf reads a log line's slot number (JSON numbers are float64: slot
// numbers of seconds since the epoch are exact in them).
func slotOf(l map[string]any) int64 {
	f, _ := l["slot"].(float64)
	return int64(f)
}

func TestLuaSeedDingDongRunsInEveryWorkerAndDongOncePerSlot(t *testing.T) {
	t.Parallel()
	// The seed's 10 s and 60 s would make a long test: the same file with
	// 1 s and 2 s.
	src := seedDingDong(t)
	fast := strings.Replace(strings.Replace(src, "interval = 10,", "interval = 1,", 1), "interval = 60,", "interval = 2,", 1)
	if strings.Count(fast, "interval = 1,") != 1 || strings.Count(fast, "interval = 2,") != 1 {
		t.Fatalf("the seed's intervals not found in:\n%s", src)
	}
	config := filepath.Join(t.TempDir(), "rules.lua") // its SQLite dictionary beside it
	writeFile(t, config, fast)
	const workers = 3
	in := start(t, config, workers, "--log-level", "debug", "--stop-timeout", "1s")
	began := time.Now()
	names := map[string]bool{}
	for _, w := range in.workers() {
		names[w.Name] = true
	}
	if len(names) != workers {
		t.Fatalf("workers %v", names)
	}
	time.Sleep(7 * time.Second)
	code, body := in.get("status.json")
	if code != 200 || !strings.Contains(string(body), "TRYDING") || !strings.Contains(string(body), "TRYDONG") {
		t.Errorf("status.json: %d %s", code, body)
	}
	code, body = in.get("history.json?rule=TRYDONG")
	if code != 200 || !strings.Contains(string(body), `"outcome":"succeeded"`) || !strings.Contains(string(body), `"type":"preemption"`) {
		t.Errorf("history.json of TRYDONG: %d %s; want its runs", code, body)
	}
	_, metrics := in.get("metrics")
	if !strings.Contains(string(metrics), `type="preemption"`) {
		t.Errorf("metrics without the preemption rule's series:\n%s", metrics)
	}
	stoppedAt := time.Now()
	in.signal(syscall.SIGTERM)
	if err := in.wait(15 * time.Second); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}

	type key struct {
		rule string
		slot int64
	}
	ran := map[key]map[string]int{} // by worker
	for _, l := range in.log.find("ngxtasks: run") {
		k := key{l["rule"].(string), slotOf(l)}
		if ran[k] == nil {
			ran[k] = map[string]int{}
		}
		ran[k][l["worker"].(string)]++
		if l["result"] != "ok" {
			t.Errorf("run %v: want result ok", l)
		}
	}
	// The callback itself ran: ngx.log(ngx.ALERT, self.identifier) is a
	// line of its own in the worker's log, one per run.
	for _, rule := range []string{"TRYDING", "TRYDONG"} {
		said, runs := len(in.log.find(rule)), 0
		for k, ws := range ran {
			if k.rule == rule {
				for _, n := range ws {
					runs += n
				}
			}
		}
		if said != runs || runs == 0 {
			t.Errorf("%s: %d runs, %d ngx.log lines; want one line a run", rule, runs, said)
		}
	}
	skipped := map[key][]string{}
	for _, l := range in.log.find("ngxtasks: skipped") {
		k := key{fmt.Sprint(l["rule"]), slotOf(l)}
		skipped[k] = append(skipped[k], fmt.Sprintf("%v: %v", l["worker"], l["reason"]))
	}

	// Strict, whatever the slot: DING at most once per worker, DONG at
	// most once across the workers.
	for k, ws := range ran {
		total := 0
		for w, n := range ws {
			total += n
			if n > 1 {
				t.Errorf("%s slot %d ran %d times in %s", k.rule, k.slot, n, w)
			}
		}
		if k.rule == "TRYDONG" && total > 1 {
			t.Errorf("TRYDONG slot %d ran %d times across the workers (%v), want at most once", k.slot, total, ws)
		}
	}
	// Liveness, for the slots that began once every worker was ready and
	// ended before the stop: DING ran in every worker, DONG in one, unless
	// reported skipped.
	const margin = 200 * time.Millisecond
	whole := func(iv time.Duration) (first, last int64) {
		return (began.UnixNano() + int64(iv) - 1) / int64(iv), stoppedAt.Add(-margin).UnixNano()/int64(iv) - 1
	}
	first, last := whole(time.Second)
	if last-first < 4 {
		t.Fatalf("only slots %d..%d of DING in the window", first, last)
	}
	for s := first; s <= last; s++ {
		k := key{"TRYDING", s}
		for w := range names {
			if ran[k][w] != 1 && skipped[k] == nil {
				t.Errorf("TRYDING slot %d did not run in %s, and was not reported skipped", s, w)
			}
		}
	}
	first, last = whole(2 * time.Second)
	dongs := 0
	for s := first; s <= last; s++ {
		k := key{"TRYDONG", s}
		switch {
		case len(ran[k]) == 1:
			dongs++
		case skipped[k] != nil:
			t.Logf("TRYDONG slot %d skipped: %v", s, skipped[k])
		default:
			t.Errorf("TRYDONG slot %d ran nowhere, and no worker reported it skipped", s)
		}
	}
	if dongs < 2 {
		t.Errorf("%d TRYDONG slots ran in the window, want at least 2", dongs)
	}
}

// The seed's file, verbatim: validate accepts it and next lists its
// slots; the command takes the file as -c or as its first argument.
func TestLuaValidateAndNextTakeTheSeedFileAsItIs(t *testing.T) {
	t.Parallel()
	config := filepath.Join(t.TempDir(), "dingdong.lua")
	writeFile(t, config, seedDingDong(t))
	for _, args := range [][]string{{"validate", config}, {"validate", "-c", config}} {
		code, stdout, stderr := ngxtasks(t, args...)
		if code != 0 || stdout != config+": 2 rules, ok\n" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, stdout, stderr)
		}
	}
	code, stdout, stderr := ngxtasks(t, "next", config, "-n", "2", "--json", "TRYDONG")
	var starts []struct {
		Rule, Type, UTC string
	}
	if code != 0 || json.Unmarshal([]byte(stdout), &starts) != nil || len(starts) != 2 {
		t.Fatalf("next: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	a, errA := time.Parse(time.RFC3339Nano, starts[0].UTC)
	b, errB := time.Parse(time.RFC3339Nano, starts[1].UTC)
	if errA != nil || errB != nil || b.Sub(a) != time.Minute || a.Unix()%60 != 0 || starts[0].Type != "preemption" {
		t.Errorf("next TRYDONG: %+v, want two starts a minute apart on the minute", starts)
	}
}

// Bad Lua files: each mistake is named with its file and line, and
// nothing starts (exit 2), from validate and from run alike.
func TestLuaValidateNamesFileAndLineOfEachMistake(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, c := range []struct {
		name, src string
		line      int
		want      string
	}{
		{"syntax", "rules = {\n  { identifier = 'a', interval = 1, typ = 'normal',\n    callback = function(self) ngx.log(ngx.ERR, 'x' end },\n}\n", 3, "syntax error"},
		{"unknown-ngx", "rules = {\n  { identifier = 'a', interval = 1, typ = 'normal',\n    callback = function(self) ngx.timer.at(0, function() end) end },\n}\n", 3, "ngx.timer"},
		{"typ", "rules = {\n  { identifier = 'a', interval = 1, typ = 'other', callback = function(self) end },\n}\n", 2, "typ"},
		{"interval-zero", "rules = {\n  { identifier = 'a', interval = 1, typ = 'normal', callback = function(self) end },\n  { identifier = 'b', interval = 0, typ = 'normal', callback = function(self) end },\n}\n", 3, "interval"},
		{"no-identifier", "rules = {\n  { name = 'says ding', interval = 1, typ = 'normal', callback = function(self) end },\n}\n", 2, "identifier"},
		{"callback-string", "rules = {\n  { identifier = 'a', interval = 1, typ = 'normal', callback = 'dingdong' },\n}\n", 2, "callback"},
		{"missing-module", "local lib = require('nowhere')\nrules = {}\n", 1, "nowhere"},
		{"too-short", "rules = {\n  { identifier = 'a', interval = 0.01, typ = 'normal', callback = function(self) end },\n}\n", 2, "at least 100ms"},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, c.name+".lua")
			writeFile(t, path, c.src)
			code, stdout, stderr := ngxtasks(t, "validate", path)
			place := fmt.Sprintf("%s:%d:", path, c.line)
			if code != 2 || stdout != "" || !strings.Contains(stderr, place) || !strings.Contains(stderr, c.want) {
				t.Errorf("validate: exit %d, stdout %q, stderr %q; want exit 2 and %q with %q", code, stdout, stderr, place, c.want)
			}
			code, _, runErr := ngxtasks(t, "run", path, "--listen", "off", "--workers", "1")
			if code != 2 || !strings.Contains(runErr, place) {
				t.Errorf("run: exit %d, stderr %q; want exit 2 and %q", code, runErr, place)
			}
		})
	}
}

// A reload (SIGHUP) of an edited Lua file: every worker runs the new
// callbacks and the new rule, and no worker the old ones once it applied;
// a file with a mistake is refused and the rules go on; a module the file
// requires, edited alone, is a change too.
func TestLuaReloadTakesTheEditedFile(t *testing.T) {
	t.Parallel()
	file := func(extra string) string {
		return fmt.Sprintf(`local tag = require('tag')
rules = {
    {
        identifier = 'tick',
        interval = 0.5,
        typ = 'normal',
        callback = function(self)
            ngx.log(ngx.NOTICE, 'tick ', tag)
        end
    },%s
}
`, extra)
	}
	dir := t.TempDir()
	config := filepath.Join(dir, "rules.lua")
	module := filepath.Join(dir, "tag.lua")
	writeFile(t, module, "return 'v1'\n")
	writeFile(t, config, file(""))
	const workers = 3
	in := start(t, config, workers, "--stop-timeout", "1s")
	said := func(msg string) map[any]int {
		ws := map[any]int{}
		for _, l := range in.log.find(msg) {
			ws[l["worker"]]++
		}
		return ws
	}
	in.waitFor("tick v1 in every worker", 10*time.Second, func() bool { return len(said("tick v1")) == workers })

	// A mistake: refused, the old rules keep running.
	writeFile(t, config, file("\n    { identifier = 'bad', interval = 1, typ = 'other', callback = function(self) end },"))
	in.signal(syscall.SIGHUP)
	in.waitFor("the refused reload", 10*time.Second, func() bool {
		return strings.Contains(in.log.String(), "reload refused") && strings.Contains(in.log.String(), "rules.lua:11:")
	})

	reload := func(n int) time.Time {
		t.Helper()
		in.signal(syscall.SIGHUP)
		in.waitFor("the reload applied", 10*time.Second, func() bool { return len(in.log.find("ngxtasks: reload applied")) == n })
		if l := in.log.find("ngxtasks: reload applied")[n-1]; l["failed_workers"] != 0.0 {
			t.Fatalf("reload: %v", l)
		}
		return time.Now()
	}
	writeFile(t, module, "return 'v2'\n")
	writeFile(t, config, file("\n    { identifier = 'tock', interval = 1, typ = 'preemption', callback = function(self) ngx.log(ngx.NOTICE, 'tock') end },"))
	appliedAt := reload(1)
	if l := in.log.find("ngxtasks: reloading"); len(l) != 1 || fmt.Sprint(l[0]["added"]) != "[tock]" || fmt.Sprint(l[0]["changed"]) != "[tick]" {
		t.Errorf("reloading: %v, want tock added and tick changed", l)
	}
	v1 := len(in.log.find("tick v1"))
	in.waitFor("tick v2 in every worker, and tock", 10*time.Second, func() bool {
		return len(said("tick v2")) == workers && len(in.log.find("tock")) >= 2
	})
	time.Sleep(time.Until(appliedAt.Add(2 * time.Second)))
	// A slot the old rule took just before the reload may still run in
	// the old state; none after.
	if n := len(in.log.find("tick v1")); n > v1+workers {
		t.Errorf("tick v1 said %d times after the reload applied (%d before)", n-v1, v1)
	}

	// The module alone.
	writeFile(t, module, "return 'v3'\n")
	reload(2)
	if l := in.log.find("ngxtasks: reloading"); len(l) != 2 || fmt.Sprint(l[1]["changed"]) != "[tick tock]" {
		t.Errorf("reloading: %v, want tick and tock changed", l)
	}
	in.waitFor("tick v3 in every worker", 10*time.Second, func() bool { return len(said("tick v3")) == workers })
	in.signal(syscall.SIGTERM)
	if err := in.wait(15 * time.Second); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
}

// The seed's custom keys generator, verbatim, counts slots from
// global_start_time, which the command sets to the instance's start: every
// worker process cuts the same slots, numbered from 0, and DONG runs at
// most once in each. The file requires the rules and the generator as
// modules beside it.
func TestLuaSeedKeysGeneratorCutsSlotsFromTheInstanceStart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	keys, err := os.ReadFile("testdata/seed/keys.lua")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "keys.lua"), string(keys))
	rules := strings.Replace(strings.Replace(seedDingDong(t), "interval = 10,", "interval = 1,", 1), "interval = 60,", "interval = 2,", 1)
	writeFile(t, filepath.Join(dir, "rules.lua"), rules)
	config := filepath.Join(dir, "main.lua")
	writeFile(t, config, "require('rules')\nrequire('keys')\n")
	if code, stdout, stderr := ngxtasks(t, "validate", config); code != 0 || stdout != config+": 2 rules, ok\n" {
		t.Fatalf("validate: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	const workers = 3
	in := start(t, config, workers, "--stop-timeout", "1s")
	in.waitFor("three TRYDONG slots", 15*time.Second, func() bool {
		n := 0
		for _, l := range in.log.find("ngxtasks: run") {
			if l["rule"] == "TRYDONG" {
				n++
			}
		}
		return n >= 3
	})
	in.signal(syscall.SIGTERM)
	if err := in.wait(15 * time.Second); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
	dongs := map[int64][]any{}
	for _, l := range in.log.find("ngxtasks: run") {
		if s := slotOf(l); s < 0 || s > 20 {
			t.Errorf("run %v: slot not counted from the instance's start", l)
		}
		if l["rule"] == "TRYDONG" {
			dongs[slotOf(l)] = append(dongs[slotOf(l)], l["worker"])
		}
	}
	for s, ws := range dongs {
		if len(ws) != 1 {
			t.Errorf("TRYDONG slot %d ran in %v, want one worker", s, ws)
		}
	}
	if len(dongs) < 3 {
		t.Errorf("TRYDONG ran in %d slots, want 3", len(dongs))
	}
}

// A Lua error is a failed run, logged with the file and line where it was
// raised; a runaway callback is stopped by its rule's timeout; the worker
// goes on running both.
func TestLuaErrorsAndRunawaysAreFailedRuns(t *testing.T) {
	t.Parallel()
	config := filepath.Join(t.TempDir(), "rules.lua")
	writeFile(t, config, `rules = {
    { identifier = 'boom', interval = 0.5, typ = 'normal',
      callback = function(self)
          error('boom')
      end },
    { identifier = 'spin', interval = 1, typ = 'normal', timeout = 0.2,
      callback = function(self)
          while true do end
      end },
}
`)
	in := start(t, config, 1, "--stop-timeout", "1s")
	failed := func(rule string) []map[string]any {
		var out []map[string]any
		for _, l := range in.log.find("ngxtasks: run") {
			if l["rule"] == rule && l["result"] == "failed" {
				out = append(out, l)
			}
		}
		return out
	}
	in.waitFor("two failed runs of each rule", 10*time.Second, func() bool { return len(failed("boom")) >= 2 && len(failed("spin")) >= 2 })
	if e := fmt.Sprint(failed("boom")[0]["error"]); !strings.Contains(e, "rules.lua:4") || !strings.Contains(e, "boom") {
		t.Errorf("boom's error %q: want the message and rules.lua:4", e)
	}
	if e := fmt.Sprint(failed("spin")[0]["error"]); !strings.Contains(e, "deadline") && !strings.Contains(e, "timeout") && !strings.Contains(e, "timed out") {
		t.Errorf("spin's error %q: want its timeout", e)
	}
	_, body := in.get("status.json")
	if !strings.Contains(string(body), "boom") {
		t.Errorf("status.json without boom's error: %s", body)
	}
	in.signal(syscall.SIGTERM)
	if err := in.wait(15 * time.Second); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
}

// Workers run only what the master validated: a worker restarted after
// the file was edited, but before the reload, does not run the edit (it
// waits, restarted by the master, for the reload); after the reload every
// worker runs the new file.
func TestLuaRestartedWorkerRunsOnlyTheValidatedFile(t *testing.T) {
	t.Parallel()
	file := func(tag string) string {
		return "rules = { { identifier = 'tick', interval = 0.5, typ = 'normal',\n" +
			"  callback = function(self) ngx.log(ngx.NOTICE, 'tick " + tag + "') end } }\n"
	}
	config := filepath.Join(t.TempDir(), "rules.lua")
	writeFile(t, config, file("v1"))
	const workers = 2
	in := start(t, config, workers, "--stop-timeout", "1s")
	said := func(msg string) map[any]int {
		ws := map[any]int{}
		for _, l := range in.log.find(msg) {
			ws[l["worker"]]++
		}
		return ws
	}
	in.waitFor("tick v1 in every worker", 10*time.Second, func() bool { return len(said("tick v1")) == workers })

	writeFile(t, config, file("v2")) // not reloaded yet
	victim := in.workers()[1]
	if err := syscall.Kill(victim.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	if n := len(in.log.find("tick v2")); n > 0 {
		t.Fatalf("tick v2 said %d times before the reload", n)
	}
	if !strings.Contains(in.log.String(), "changed on disk since it was read") {
		t.Errorf("no worker said why it did not start")
	}
	in.signal(syscall.SIGHUP)
	in.waitFor("tick v2 in every worker", 20*time.Second, func() bool { return len(said("tick v2")) == workers })
	in.signal(syscall.SIGTERM)
	if err := in.wait(15 * time.Second); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
}

// A YAML file with lua: runs the Lua file's rules beside its own, under
// its settings (here a namespace and a log level).
func TestYAMLFileRunsTheRulesOfItsLuaFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	rules := strings.Replace(strings.Replace(seedDingDong(t), "interval = 10,", "interval = 1,", 1), "interval = 60,", "interval = 2,", 1)
	writeFile(t, filepath.Join(dir, "dingdong.lua"), rules)
	config := filepath.Join(dir, "rules.yaml")
	writeFile(t, config, "namespace: lua-yaml\nlog: {level: debug}\nlua: dingdong.lua\nrules:\n  - {id: sweep, interval: 1s, type: preemption, exec: {argv: [echo, swept]}}\n")
	if code, stdout, stderr := ngxtasks(t, "validate", config); code != 0 || stdout != config+": 3 rules, ok\n" {
		t.Fatalf("validate: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	in := start(t, config, 2, "--stop-timeout", "1s")
	in.waitFor("TRYDING, TRYDONG and sweep run", 10*time.Second, func() bool {
		seen := map[any]bool{}
		for _, l := range in.log.find("ngxtasks: run") {
			seen[l["rule"]] = true
		}
		return seen["TRYDING"] && seen["TRYDONG"] && seen["sweep"] && len(in.log.find("TRYDING")) > 0
	})
	if len(in.log.find("ngxtasks: fired")) == 0 {
		t.Error("no debug line: the file's log level is not the workers'")
	}
	in.signal(syscall.SIGTERM)
	if err := in.wait(15 * time.Second); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
}
