package rulefile

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/ngxtasks/ngxtasks"
	"github.com/ngxtasks/ngxtasks/luarules"
)

// A rule file whose name ends in .lua is an ngx_tasks rules module, loaded
// by package luarules as OpenResty users wrote it (docs/migrating.md). It
// holds rules only: every setting of the File is its default, which the
// command line overrides as for a YAML file. Its rules are Rule values
// like a YAML file's, with Lua set instead of Exec or HTTP, so that the
// master, reloads, `validate` and `next` treat both alike.

// Kind tells a rule file's format by its name: "lua" for a name ending in
// .lua (any case), else "yaml". known is false for a name that ends in
// neither .lua nor .yaml or .yml (still read as YAML).
func Kind(path string) (kind string, known bool) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".lua":
		return "lua", true
	case ".yaml", ".yml":
		return "yaml", true
	}
	return "yaml", false
}

func isLua(path string) bool {
	k, _ := Kind(path)
	return k == "lua"
}

// Lua is what runs a rule of a Lua file: the callback (and filter) of its
// rule table, in the Lua state of the worker that runs it
// (luarules.Worker). The worker finds the rule in its state by id.
type Lua struct {
	File string // the file holding the rule table, as luarules names it
	Line int
	// Digest identifies the file's contents: a rule of a file that
	// changed is a new definition (its callback is a new function in a
	// new state), whatever its own table says.
	Digest string
}

// parseLua loads a Lua rule file: its rules, every setting its default.
// data is the file's contents as the caller read them (the master's
// snapshot); luarules reads the file at path and the modules it requires
// from its directory itself, and a file that no longer holds data by then
// is refused rather than run in a version nobody validated.
func parseLua(path, dir string, data []byte, env Env) (*File, error) {
	d := &decoder{path: path, dir: dir, env: env, raw: env}
	f := d.defaults()
	f.StateDir = d.defaultStateDir()
	f.Dict = defaultDict(f.StateDir)
	f.src = &source{dir: dir} // for Reparse, which loads a Lua file whole
	d.addLua(f, path, dir, data)
	if err := d.errs.result(path); err != nil {
		return nil, err
	}
	return f, nil
}

// addLua loads the Lua file at path (its contents data, its modules in
// dir) into f: f.Lua, f.Started, and its rules after f's. Its mistakes
// are d's, each at its Lua file and line.
func (d *decoder) addLua(f *File, path, dir string, data []byte) {
	f.Started = d.raw.Started
	if f.Started.IsZero() {
		f.Started = time.Now().Truncate(time.Second)
	}
	// The file's top level runs here and again in each worker's state,
	// which logs its ngx.log lines: not here too.
	quiet := slog.New(slog.DiscardHandler)
	lf, err := luarules.Load(path, luarules.Options{Logger: quiet, Globals: map[string]any{"global_start_time": f.Started}})
	if err != nil {
		for _, e := range luaErrors(path, err) {
			d.errs.add(e)
		}
		return
	}
	if now, err := readFile(path); err != nil || !bytes.Equal(now, data) {
		d.errs.add(&Error{File: path, Message: changedMessage})
		return
	}
	digest, err := luaSources(path, dir, data, d.raw)
	if err != nil {
		d.errs.add(&Error{File: path, Message: err.Error()})
		return
	}
	f.Lua, f.LuaDigest = lf, digest
	ids := make(map[string]bool, len(f.Rules))
	for _, r := range f.Rules {
		ids[r.ID] = true
	}
	for _, ri := range lf.Rules() {
		r := Rule{
			ID:         ri.Identifier,
			Name:       ri.Name,
			Interval:   ri.Interval,
			Type:       ri.Type,
			Timeout:    ri.Timeout,
			Offset:     ri.Offset,
			Spread:     ri.Spread,
			MaxRunning: f.MaxRunning,
			Lua:        &Lua{File: ri.File, Line: ri.Line, Digest: digest},
			Pos:        Pos{Line: ri.Line},
		}
		bad := func(format string, args ...any) {
			d.errs.add(&Error{File: ri.File, Line: ri.Line, Rule: r.ID, Message: fmt.Sprintf("rule %s: ", quote(r.ID)) + fmt.Sprintf(format, args...)})
		}
		switch {
		case ids[r.ID]:
			bad("identifier: already the id of a rule of %s", d.path)
		case r.Interval < MinInterval:
			bad("interval: %s", tooShort(r.Interval))
		case ri.Drive == ngxtasks.DriveRequest || ri.Drive == ngxtasks.DriveRun:
			bad("drive: the command drives its rules by a timer; a rule kept to requests or Run calls would never run here (leave drive out, or use package luarules with Manager.Middleware)")
		default:
			if err := checkCore(&r); err != nil {
				bad("%v", err)
			}
		}
		r.Fingerprint, d.fpBuf = fingerprint(&r, d.fpBuf)
		f.Rules = append(f.Rules, r)
	}
}

// changedMessage refuses a Lua file (or module) whose contents on disk
// are not those read first: the master's, when a worker loads it.
const changedMessage = "changed on disk since it was read (the master reads a Lua file and its modules at start and at each reload, and every worker runs exactly that): reload (SIGHUP, ngxtasks reload) to run the new version"

// Bounds of the modules luaSources reads beside a Lua file.
const (
	maxLuaSources = 1000 // .lua files
	maxLuaDepth   = 3    // folders below the file's (require('a.b.c.d'))
	maxLuaVisits  = 5000 // directory entries looked at
)

// luaSources reads the files a load of the Lua file at path may run: the
// file itself (data) and every .lua file under its folder, where require
// finds modules (hidden folders and deeper ones left out). Each is read
// through env, as env files are (so the master's snapshot carries them,
// and a worker reads them from it), and compared with the disk, which
// luarules reads: a module that changed since the master read it is
// refused like the file. The digest covers them all, so that a reload
// after editing a module alone is a new definition of every rule.
func luaSources(path, dir string, data []byte, env Env) (string, error) {
	read := env.ReadFile
	if read == nil {
		read = readFile
	}
	h := sha256.New()
	put := func(name string, b []byte) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(name)))
		h.Write(n[:])
		h.Write([]byte(name))
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	put("", data)
	main := filepath.Base(path)
	if dir == "" {
		dir = "."
	}
	found, visits := 0, 0
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return nil // an unreadable folder: require cannot read it either
		}
		if visits++; visits > maxLuaVisits {
			return filepath.SkipAll
		}
		rel, _ := filepath.Rel(dir, p)
		if e.IsDir() {
			if p != dir && (strings.HasPrefix(e.Name(), ".") || strings.Count(rel, string(filepath.Separator)) >= maxLuaDepth) {
				return filepath.SkipDir
			}
			return nil
		}
		if rel == main || !strings.EqualFold(filepath.Ext(p), ".lua") || !e.Type().IsRegular() {
			return nil
		}
		if found++; found > maxLuaSources {
			return filepath.SkipAll
		}
		b, err := read(p)
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("module %s: %s", rel, changedMessage) // not there when the master read
		}
		if err != nil {
			return fmt.Errorf("module %s: %w", rel, err)
		}
		if disk, err := readFile(p); err != nil || !bytes.Equal(disk, b) {
			return fmt.Errorf("module %s: %s", rel, changedMessage)
		}
		put(rel, b)
		return nil
	})
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)[:16]), nil
}

// luaErrors turns luarules' errors into Errors, one a mistake, each with
// its file and line.
func luaErrors(path string, err error) Errors {
	var out Errors
	var walk func(error)
	walk = func(err error) {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
			return
		}
		var le *luarules.Error
		if errors.As(err, &le) {
			out = append(out, &Error{File: le.File, Line: le.Line, Rule: le.Rule, Message: strings.TrimPrefix(le.Error(), luaPlace(le))})
			return
		}
		out = append(out, &Error{File: path, Message: err.Error()})
	}
	walk(err)
	return out
}

// luaPlace is the "file:line: " an *luarules.Error begins with, which
// Error adds itself.
func luaPlace(le *luarules.Error) string {
	if le.Line > 0 {
		return fmt.Sprintf("%s:%d: ", le.File, le.Line)
	}
	return le.File + ": "
}
