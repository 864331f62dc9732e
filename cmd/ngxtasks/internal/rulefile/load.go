package rulefile

import (
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Env is what Parse may learn from outside the rule file. Load passes
// the process's; tests and fuzzing pass their own, which keeps Parse a
// function of its arguments.
type Env struct {
	// Lookup finds a variable (os.LookupEnv). Nil: no variables are set.
	Lookup func(name string) (string, bool)
	// ReadFile reads an env file (Load and LoadFiles read at most 8 MiB
	// of a regular file, refusing devices and FIFOs). Nil: naming an env file
	// is an error.
	ReadFile func(path string) ([]byte, error)
	// Started is when the instance started, in whole seconds: a Lua
	// file's global_start_time, which nginx's init_by_lua set to
	// os.time() (the seed's base_time). Zero: now. A reload keeps the
	// file's (File.Started), so the slots of a base_time stay put.
	Started time.Time
}

// Load reads and parses a rule file, reading the env files it names and
// expanding ${VAR} from the process environment. Relative paths in the
// file are taken from the file's directory. A file that cannot be read is
// an ordinary error; a file with mistakes is Errors, all of them.
func Load(path string) (*File, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	env := Env{Lookup: os.LookupEnv, ReadFile: readFile}
	return parse(path, filepath.Dir(abs), data, env)
}

// Files are the files a load read, by the path it read them under.
type Files map[string][]byte

// ReadFile serves a file of fs, as Env.ReadFile.
func (fs Files) ReadFile(path string) ([]byte, error) {
	if b, ok := fs[path]; ok {
		return b, nil
	}
	return nil, fmt.Errorf("%s: %w", path, os.ErrNotExist)
}

// LoadFiles is Load that also returns every file it read: the rule file
// under its absolute path abs, and the env files it named. Another process
// given them parses exactly what this one did, whatever happens on disk
// meanwhile: Parse(abs, files[abs], Env{Lookup: os.LookupEnv, ReadFile:
// files.ReadFile}). With prev, the file as last loaded, it reparses (see
// File.Reparse).
func LoadFiles(path string, prev *File) (f *File, abs string, files Files, err error) {
	data, err := readFile(path)
	if err != nil {
		return nil, "", nil, err
	}
	if abs, err = filepath.Abs(path); err != nil {
		return nil, "", nil, err
	}
	files = Files{abs: data}
	env := Env{Lookup: os.LookupEnv, ReadFile: func(p string) ([]byte, error) {
		b, err := readFile(p)
		if err == nil {
			files[p] = b
		}
		return b, err
	}}
	if prev != nil {
		env.Started = prev.Started
	}
	if prev != nil {
		f, err = prev.Reparse(data, env)
	} else {
		f, err = parse(path, filepath.Dir(abs), data, env)
	}
	return f, abs, files, err
}

// Parse parses a rule file's contents. path names the file in messages
// and is where relative paths start; nothing is read but through env,
// except for a Lua file (Kind), which luarules loads from path and its
// directory: its contents must still be data. The error, if any, is
// Errors.
func Parse(path string, data []byte, env Env) (*File, error) {
	return parse(path, filepath.Dir(path), data, env)
}

func parse(path, dir string, data []byte, env Env) (*File, error) {
	if isLua(path) {
		return parseLua(path, dir, data, env)
	}
	var cutList *listing
	if list, ok := cut(data); ok {
		cutList = &list
		if done, f, err := parsePieces(path, dir, list, env); done {
			return f, err
		}
	}
	return parseWhole(path, dir, data, env, cutList)
}

// parseWhole parses the file as one YAML document; list is its cut, nil
// when it does not cut.
func parseWhole(path, dir string, data []byte, env Env, list *listing) (*File, error) {
	rec := newRecorder(env)
	d := &decoder{path: path, dir: dir, env: rec.env(), raw: env}
	body, ok := d.document(data)
	if !ok {
		return nil, d.errs.result(path)
	}
	f := d.file(body)
	if err := d.errs.result(path); err != nil {
		return nil, err
	}
	f.src = newSource(dir, f, rec, list)
	return f, nil
}

// newSource is what Reparse needs of f, parsed from a file whose rules
// list is list (nil when the file did not cut).
func newSource(dir string, f *File, rec *recorder, list *listing) *source {
	src := &source{dir: dir, topFile: f.EnvFile, reads: rec.reads, looks: rec.looks}
	if list == nil || len(list.items) != len(f.Rules) {
		return src
	}
	src.head, src.rules = list.head(), make(map[string]*Rule, len(list.items))
	for i, it := range list.items {
		if it.line != f.Rules[i].Pos.Line {
			src.rules = nil // the cut and the parser disagree: no shortcut
			break
		}
		src.rules[it.text] = &f.Rules[i]
	}
	return src
}
