package ngxtasks

import (
	"errors"
	"net/url"
	"strings"
)

// ParseDictURL parses a dictionary URL as url.Parse does, but its error
// never repeats the URL or any part of it: url.Parse's quotes the whole
// URL, password and all, and what it wraps may quote a part (a "port" that
// was a password). Backends parse with it and report its error as is.
func ParseDictURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("cannot parse: " + unquoted(errors.Unwrap(err)))
	}
	return u, nil
}

// unquoted is an error's text with what it quotes left out.
func unquoted(err error) string {
	if err == nil {
		return "malformed"
	}
	parts := strings.Split(err.Error(), `"`)
	for i := 1; i < len(parts); i += 2 {
		parts[i] = "…"
	}
	return strings.Join(parts, `"`)
}

// RedactURL returns a dictionary URL as errors and logs may show it: no
// password in its user information, no value of a parameter whose name
// says it holds a secret (password, passwd, pwd, secret, token), no
// fragment. A URL without the "//" (user:secret@host) shows only its
// scheme, one that cannot be parsed nothing of itself, and a key=value
// connection string (host=… password=…) its keys with the secret values
// replaced. Backends use it too, so that every form a user can write is
// redacted the one way.
func RedactURL(raw string) string {
	if !strings.Contains(raw, "://") && strings.Contains(raw, "=") && !strings.Contains(raw, "?") {
		return redactKeyValues(raw)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "(a URL that cannot be parsed)"
	}
	if u.Opaque != "" {
		return u.Scheme + ":…"
	}
	hidden := u.Fragment != "" || u.RawFragment != ""
	u.Fragment, u.RawFragment = "", ""
	if u.User != nil {
		if _, has := u.User.Password(); has {
			u.User, hidden = url.UserPassword(u.User.Username(), "xxxxx"), true
		}
	}
	if u.RawQuery != "" {
		q, err := url.ParseQuery(u.RawQuery)
		if err != nil {
			u.RawQuery, hidden = "(parameters that cannot be parsed)", true
		}
		for k, vs := range q {
			if secretKey(k) {
				for i := range vs {
					vs[i], hidden = "xxxxx", true
				}
			}
		}
		if err == nil && hidden {
			u.RawQuery = q.Encode()
		}
	}
	if !hidden {
		return raw // nothing to hide: as the user wrote it
	}
	return u.String()
}

// secretKey says whether a parameter's name says it holds a secret.
func secretKey(k string) bool {
	k = strings.ToLower(k)
	for _, s := range []string{"pass", "pwd", "secret", "token"} {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}

// redactKeyValues redacts a libpq-style key=value connection string, where
// a value may be quoted ('a b', with \' inside).
func redactKeyValues(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] == ' ' || s[i] == '\t' || s[i] == '\n' {
			b.WriteByte(' ')
			i++
			continue
		}
		eq := strings.IndexByte(s[i:], '=')
		if eq < 0 { // a stray word
			end := strings.IndexAny(s[i:], " \t\n")
			if end < 0 {
				end = len(s) - i
			}
			b.WriteString(s[i : i+end])
			i += end
			continue
		}
		key := strings.TrimSpace(s[i : i+eq])
		j := i + eq + 1
		for j < len(s) && s[j] == ' ' {
			j++
		}
		end := j
		if end < len(s) && s[end] == '\'' {
			for end++; end < len(s) && s[end] != '\''; end++ {
				if s[end] == '\\' {
					end++
				}
			}
			end = min(end+1, len(s))
		} else {
			for end < len(s) && s[end] != ' ' && s[end] != '\t' && s[end] != '\n' {
				end++
			}
		}
		b.WriteString(key)
		b.WriteByte('=')
		if secretKey(key) {
			b.WriteString("xxxxx")
		} else {
			b.WriteString(s[j:end])
		}
		i = end
	}
	return b.String()
}
