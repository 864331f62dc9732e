package rulefile

import (
	"net/url"
	"strings"
	"time"

	"go.yaml.in/yaml/v4"
)

func httpKeys() []string {
	return []string{"method", "url", "headers", "body", "timeout", "expect", "output_limit"}
}

// http decodes a rule's http: section. Messages about the URL, headers
// and body show their templates: once expanded they may hold secrets.
func (d *decoder) http(n *node, pl place, ruleTimeout time.Duration) *HTTP {
	keys, ok := d.fields(n, pl, httpKeys(), nil)
	if !ok {
		return nil
	}
	sc := d.scope(envSource{})
	h := &HTTP{Method: "GET", Timeout: DefaultHTTPTimeout, OutputLimit: DefaultOutputLimit}
	if ruleTimeout > 0 {
		h.Timeout = ruleTimeout
	}

	if e, ok := keys.get("method"); ok {
		if s, ok := d.str(e.val, pl.field("method")); ok {
			if isToken(s) {
				h.Method = strings.ToUpper(s)
			} else {
				d.at(e.val, pl.field("method"), "%s is not an HTTP method (GET, POST, PUT, …)", quote(s))
			}
		}
	}
	if e, ok := keys.get("url"); !ok {
		d.atPos(posOf(n), pl.field("url"), "required")
	} else if t, ok := d.text(e.val, pl.field("url"), sc); ok {
		if problem := urlProblem(t); problem != "" {
			d.at(e.val, pl.field("url"), "%s %s", quote(t.Template), problem)
		}
		h.URL = t
	}
	if e, ok := keys.get("headers"); ok {
		h.Headers = d.headers(e.val, pl.field("headers"), sc)
	}
	if e, ok := keys.get("body"); ok {
		h.Body, _ = d.text(e.val, pl.field("body"), sc)
	}
	if e, ok := keys.get("timeout"); ok {
		if v, ok := d.duration(e.val, pl.field("timeout")); ok {
			if v <= 0 {
				d.at(e.val, pl.field("timeout"), "must be more than 0, got %v", v)
			} else {
				h.Timeout = v
			}
		}
	}
	if e, ok := keys.get("expect"); ok {
		h.Expect = d.expect(e.val, pl.field("expect"))
	}
	if e, ok := keys.get("output_limit"); ok {
		if v, ok := d.size(e.val, pl.field("output_limit")); ok {
			h.OutputLimit = v
		}
	}
	return h
}

// urlProblem checks the expanded URL. When the template holds references
// the parser's detail is left out: it quotes the part it stumbled on,
// which may be the secret.
func urlProblem(t Text) string {
	u, err := url.Parse(t.Expanded())
	switch {
	case err != nil && hasReference(t.Template):
		return "is not a valid URL once expanded"
	case err != nil:
		return "is not a valid URL: " + unwrapURLError(err)
	case u.Scheme != "http" && u.Scheme != "https":
		return "must start with http:// or https://"
	case u.Host == "":
		return "has no host"
	}
	return ""
}

func unwrapURLError(err error) string {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err.Error()
	}
	return err.Error()
}

// headers reads header names and values; values may reference variables
// and must stay on one line once expanded (a newline would start a header
// of the value's choosing).
func (d *decoder) headers(n *node, pl place, sc scope) []Header {
	list, ok := d.pairs(n, pl)
	if !ok {
		return nil
	}
	var out []Header
	for _, e := range list {
		hpl := pl.field(e.name)
		if !isToken(e.name) {
			d.at(e.key, pl, "%s is not a header name", quote(e.name))
			continue
		}
		if isNull(e.val) {
			d.at(e.key, hpl, "has no value (write \"\" for an empty one)")
			continue
		}
		t, ok := d.text(e.val, hpl, sc)
		if !ok {
			continue
		}
		if strings.ContainsAny(t.Expanded(), "\r\n\x00") {
			d.at(e.val, hpl, "holds a line break or NUL once expanded")
			continue
		}
		out = append(out, Header{Name: e.name, Value: t})
	}
	return out
}

// expect reads the accepted statuses: a list, or one status.
func (d *decoder) expect(n *node, pl place) []int {
	items := []*node{n}
	if n.Kind == yaml.SequenceNode && refused(n) == "" {
		items = n.Content
		if len(items) == 0 {
			d.at(n, pl, "must list at least one status (leave it out to accept any 2xx)")
			return nil
		}
	}
	var out []int
	for i, item := range items {
		ipl := pl
		if len(items) > 1 || item != n {
			ipl = pl.index(i)
		}
		v, ok := d.integer(item, ipl)
		if !ok {
			continue
		}
		if v < 100 || v > 599 {
			d.at(item, ipl, "%d is not an HTTP status (100–599)", v)
			continue
		}
		out = append(out, int(v))
	}
	return out
}

// isToken is RFC 9110's token: what a method or header name may be.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isNameByte(c) && !strings.ContainsRune("!#$%&'*+-.^`|~", rune(c)) {
			return false
		}
	}
	return true
}
