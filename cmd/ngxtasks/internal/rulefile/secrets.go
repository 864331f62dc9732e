package rulefile

// Secrets returns every value a load of f may have put into its rules or
// its programs' environments: the variables it looked up that lookup
// finds, and every value of the env files it read (files, by path, as
// LoadFiles returns them). The command redacts them from what leaves the
// process, whatever wrote the text (see package logs).
func (f *File) Secrets(files Files, lookup func(string) (string, bool)) []string {
	var out []string
	if lookup != nil {
		for _, name := range f.Variables() {
			if name == "STATE_DIRECTORY" { // looked up for the default state_dir: a path, no secret
				continue
			}
			if v, ok := lookup(name); ok && v != "" {
				out = append(out, v)
			}
		}
	}
	if f.src != nil {
		for path := range f.src.reads {
			vars, _ := parseEnvFile(path, files[path])
			for _, v := range vars {
				if v.value != "" {
					out = append(out, v.value)
				}
			}
		}
	}
	return out
}
