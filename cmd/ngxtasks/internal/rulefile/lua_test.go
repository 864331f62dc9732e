package rulefile

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ngxtasks/ngxtasks"
)

func TestKindTellsLuaFromYAMLByTheName(t *testing.T) {
	for _, c := range []struct {
		path, kind string
		known      bool
	}{
		{"rules.lua", "lua", true},
		{"/etc/ngxtasks/RULES.LUA", "lua", true},
		{"rules.yaml", "yaml", true},
		{"rules.yml", "yaml", true},
		{"rules.conf", "yaml", false},
		{"lua", "yaml", false},
	} {
		if kind, known := Kind(c.path); kind != c.kind || known != c.known {
			t.Errorf("Kind(%q) = %q, %v; want %q, %v", c.path, kind, known, c.kind, c.known)
		}
	}
}

// writeLua writes files into a new folder and returns its path.
func writeLua(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, src := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const dingLua = `rules = {
    { identifier = 'ding', name = 'says ding', interval = 2.5, typ = 'normal', callback = function(self) end },
    { identifier = 'dong', interval = 60, typ = 'preemption', timeout = 5, offset = 1, callback = function(self) end },
}
`

func TestLuaFileIsItsRulesWithTheDefaultSettings(t *testing.T) {
	dir := writeLua(t, map[string]string{"rules.lua": dingLua})
	path := filepath.Join(dir, "rules.lua")
	f, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if f.Lua == nil || f.Workers != min(runtime.NumCPU(), maxWorkers) || f.StateDir != dir ||
		f.Dict.Expanded() != "sqlite://"+filepath.Join(dir, "dict.db") || f.Namespace != DefaultNamespace || f.Listen != DefaultListen {
		t.Errorf("settings: %+v", f)
	}
	if f.Started.IsZero() || f.Started.Nanosecond() != 0 {
		t.Errorf("Started %v: want now, in whole seconds", f.Started)
	}
	if len(f.Rules) != 2 {
		t.Fatalf("rules: %+v", f.Rules)
	}
	ding, dong := f.Rules[0], f.Rules[1]
	if ding.ID != "ding" || ding.Name != "says ding" || ding.Interval != 2500*time.Millisecond || ding.Type != ngxtasks.Normal ||
		ding.Lua == nil || ding.Lua.Line != 2 || ding.Exec != nil || ding.HTTP != nil || ding.MaxRunning != DefaultMaxRunning {
		t.Errorf("ding: %+v %+v", ding, ding.Lua)
	}
	if dong.Type != ngxtasks.Preemption || dong.Timeout != 5*time.Second || dong.Offset != time.Second || dong.Lua.Line != 3 {
		t.Errorf("dong: %+v", dong)
	}
	if ding.Fingerprint == "" || ding.Fingerprint == dong.Fingerprint {
		t.Errorf("fingerprints %q and %q", ding.Fingerprint, dong.Fingerprint)
	}
}

// Every rule of a Lua file is a new definition when the file or a module
// beside it changes, and the same one when nothing did.
func TestLuaFingerprintCoversTheFileAndItsModules(t *testing.T) {
	dir := writeLua(t, map[string]string{
		"rules.lua":     "local say = require('lib.say')\nrules = { { identifier = 'a', interval = 1, typ = 'normal', callback = say } }\n",
		"lib/say.lua":   "return function(self) ngx.log(ngx.INFO, 'one') end\n",
		".hidden/x.lua": "this is not Lua",
	})
	path := filepath.Join(dir, "rules.lua")
	load := func() string {
		t.Helper()
		f, _, files, err := LoadFiles(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := files[filepath.Join(dir, "lib", "say.lua")]; !ok {
			t.Errorf("the module is not in the files read: %v", files)
		}
		return f.Rules[0].Fingerprint
	}
	first := load()
	if again := load(); again != first {
		t.Errorf("unchanged files: fingerprint %q, then %q", first, again)
	}
	if err := os.WriteFile(filepath.Join(dir, "lib", "say.lua"), []byte("return function(self) ngx.log(ngx.INFO, 'two') end\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if changed := load(); changed == first {
		t.Error("a changed module left the fingerprint as it was")
	}
}

// A worker parses what the master read (Files); a file or module that is
// no longer that on disk is refused rather than run unvalidated.
func TestLuaFileChangedSinceTheMasterReadItIsRefused(t *testing.T) {
	dir := writeLua(t, map[string]string{"rules.lua": dingLua, "mod.lua": "return 1\n"})
	path := filepath.Join(dir, "rules.lua")
	_, abs, files, err := LoadFiles(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	env := Env{Lookup: os.LookupEnv, ReadFile: files.ReadFile}
	if _, err := Parse(abs, files[abs], env); err != nil {
		t.Fatalf("the snapshot as read: %v", err)
	}
	for name, src := range map[string]string{"mod.lua": "return 2\n", "new.lua": "return 3\n", "rules.lua": dingLua + "-- edited\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Parse(abs, files[abs], env)
		if m := messages(t, err); len(m) != 1 || !strings.Contains(m[0], "changed on disk since it was read") {
			t.Errorf("after writing %s: %q", name, m)
		}
	}
}

// Mistakes are Errors with the Lua file and line, and no column.
func TestLuaMistakesHaveFileAndLine(t *testing.T) {
	dir := writeLua(t, map[string]string{"bad.lua": `rules = {
    { identifier = 'a', interval = 1, typ = 'other', callback = function(self) end },
    { identifier = 'b', interval = 0.05, typ = 'normal', callback = function(self) end },
    { identifier = 'c', interval = 1, typ = 'normal', drive = 'request', callback = function(self) end },
}
`})
	path := filepath.Join(dir, "bad.lua")
	_, err := Load(path)
	m := messages(t, err)
	if len(m) != 1 || !strings.HasPrefix(m[0], path+`:2: rule "a": typ: `) {
		t.Fatalf("%q", m)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(dingLua, "typ = 'normal'", "typ = 'normal', drive = 'request'", 1)+"rules[3] = { identifier = 'short', interval = 0.05, typ = 'normal', callback = function(self) end }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Load(path)
	m = messages(t, err)
	if len(m) != 2 || !strings.HasPrefix(m[0], path+`:2: rule "ding": drive: `) || !strings.HasPrefix(m[1], path+`:5: rule "short": interval: must be at least 100ms`) {
		t.Errorf("%q", m)
	}
}

// A YAML file's lua: key adds a Lua file's rules to its own, under its
// settings; the Lua file and its modules are read like the file (the
// master's snapshot), and a change to them is seen by a reload.
func TestYAMLFileTakesTheRulesOfALuaFile(t *testing.T) {
	dir := writeLua(t, map[string]string{
		"rules.yaml":    "namespace: billing\nmax_running: 8\nlua: lua/tasks.lua\nrules:\n  - {id: sweep, interval: 1m, type: preemption, exec: {argv: [\"true\"]}}\n",
		"lua/tasks.lua": "local say = require('say')\nrules = {\n  { identifier = 'ding', interval = 10, typ = 'normal', callback = say },\n}\n",
		"lua/say.lua":   "return function(self) ngx.log(ngx.ALERT, self.identifier) end\n",
	})
	path := filepath.Join(dir, "rules.yaml")
	f, _, files, err := LoadFiles(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if f.Namespace != "billing" || f.Lua == nil || len(f.Rules) != 2 || f.Rules[0].ID != "sweep" || f.Rules[1].ID != "ding" {
		t.Fatalf("file %+v", f)
	}
	if ding := f.Rules[1]; ding.Lua == nil || ding.MaxRunning != 8 || ding.Lua.File != filepath.Join(dir, "lua", "tasks.lua") || ding.Lua.Line != 3 {
		t.Errorf("ding: %+v %+v", ding, ding.Lua)
	}
	for _, p := range []string{"lua/tasks.lua", "lua/say.lua"} {
		if _, ok := files[filepath.Join(dir, p)]; !ok {
			t.Errorf("%s not among the files read", p)
		}
	}
	if len(f.Secrets(files, os.LookupEnv)) != 0 {
		t.Errorf("Lua files read as env files: %q", f.Secrets(files, os.LookupEnv))
	}
	if err := os.WriteFile(filepath.Join(dir, "lua", "say.lua"), []byte("return function(self) end\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	g, _, _, err := LoadFiles(path, f)
	if err != nil {
		t.Fatal(err)
	}
	if g.Rules[1].Fingerprint == f.Rules[1].Fingerprint || g.Rules[0].Fingerprint != f.Rules[0].Fingerprint {
		t.Error("a changed module: the Lua rule should be a new definition, the YAML one the same")
	}
}

func TestLuaKeyMistakes(t *testing.T) {
	for _, c := range []struct {
		name string
		yaml string
		want string
	}{
		{"not-lua", "lua: tasks.txt\n", `rules.yaml:1:6: lua: "` /* the resolved path follows */},
		{"missing", "lua: nowhere.lua\n", "rules.yaml:1:6: lua: "},
		{"duplicate", "lua: tasks.lua\nrules:\n  - {id: ding, interval: 1s, type: normal, exec: {argv: [\"true\"]}}\n", `tasks.lua:1: rule "ding": identifier: already the id of a rule of`},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := writeLua(t, map[string]string{
				"rules.yaml": c.yaml,
				"tasks.lua":  "rules = { { identifier = 'ding', interval = 1, typ = 'normal', callback = function(self) end } }\n",
				"tasks.txt":  "",
			})
			t.Chdir(dir)
			_, err := Load("rules.yaml")
			m := messages(t, err)
			if len(m) != 1 || !strings.Contains(m[0], c.want) {
				t.Errorf("%q, want one message with %q", m, c.want)
			}
		})
	}
}
