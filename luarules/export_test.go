package luarules

import lua "github.com/yuin/gopher-lua"

// Inspect returns field of the rule table id in w's state, a table of
// strings, numbers and booleans, for tests.
func Inspect(w *Worker, id, field string) map[string]any {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string]any{}
	for _, d := range w.defs {
		if d.info.Identifier != id {
			continue
		}
		t, ok := d.table.RawGetString(field).(*lua.LTable)
		if !ok {
			return out
		}
		t.ForEach(func(k, v lua.LValue) {
			switch v := v.(type) {
			case lua.LNumber:
				out[k.String()] = float64(v)
			case lua.LBool:
				out[k.String()] = bool(v)
			case lua.LString:
				out[k.String()] = string(v)
			}
		})
	}
	return out
}
