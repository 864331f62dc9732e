package status

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"encoding/json"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/ngxtasks/ngxtasks"
)

// Options configure a Handler. The zero value serves the local Managers
// alone, refreshing the page every 2 seconds.
type Options struct {
	// Peers are the addresses of other Handlers, as mounted
	// ("http://10.0.0.7:8080/debug/ngxtasks/"), whose workers join this
	// view. They are configuration: the handler never fetches an address
	// a request names.
	Peers []string
	// PeerTimeout bounds each peer's answer; zero is 2 seconds.
	PeerTimeout time.Duration
	// ExplainTimeout bounds asking the dictionary who won a lost slot
	// (history.json); zero is 1 second.
	ExplainTimeout time.Duration
	// Client asks the peers; nil is a client that follows no redirect.
	Client *http.Client
	// Refresh is how often the page reloads its data; zero is 2 seconds.
	Refresh time.Duration
	// Title heads the page; empty is "ngxtasks". With a Token the page
	// is served to anyone: the title should not say more than they may
	// know.
	Title string
	// Token, when set, is the bearer token status.json and history.json
	// require (Authorization: Bearer <token>; 401 without it). The page
	// and its script and style hold no data and are served without it:
	// the page asks its user for the token, keeps it for the browser tab
	// and sends it with each request. The Handler sends it to its Peers
	// too. Empty, the default, asks for nothing.
	Token string
	// Act, when set, gives the page its Trigger, Pause and Resume buttons
	// and the Handler its act document (POST only; doc.go, "Actions"),
	// which call it with what to do and who asks. LocalAct(managers...)
	// acts on the Handler's own Managers. Nil, the default, keeps the
	// Handler read only.
	Act func(ctx context.Context, a Action) error
	// Logger, when set, logs each action the page asks for with its
	// origin, note and outcome, refused ones included ("ngxtasks: action
	// done", "ngxtasks: action refused"). Those the core does it logs
	// itself, through the Manager's Logger, with origin and note.
	Logger *slog.Logger
}

// A Handler serves the status of Managers: the dashboard, its assets and
// the JSON documents doc.go describes; read only unless Options.Act lets
// its page act (doc.go, "Actions"). It keeps no state
// between requests; every answer is read from the Managers (and peers)
// when asked.
type Handler struct {
	managers       []*ngxtasks.Manager
	peers          []peer
	client         *http.Client
	peerTimeout    time.Duration
	explainTimeout time.Duration
	assets         map[string]asset // by name below the mount point; "" is the page
	token          string           // Options.Token
	act            func(context.Context, Action) error
	logger         *slog.Logger       // Options.Logger
	secret         []byte             // the key of the page's action tokens
	page           *template.Template // the page, rendered per load when it has actions
	pageData       pageData
}

// pageData fills the page's template.
type pageData struct {
	Title     string
	RefreshMS int64
	Act       bool
	CSRF      string // the page's action token, a new one per load
}

// asset is a file of the page, made once by New.
type asset struct {
	body  []byte
	ctype string
	etag  string
}

//go:embed assets
var assetFS embed.FS

// New returns a Handler serving the status of managers, joined by that of
// opts.Peers. Mount it on a path that ends in a slash, as net/http/pprof
// is: mux.Handle("/debug/ngxtasks/", h).
func New(opts Options, managers ...*ngxtasks.Manager) *Handler {
	h := &Handler{
		managers:       managers,
		client:         opts.Client,
		peerTimeout:    orDefault(opts.PeerTimeout, 2*time.Second),
		explainTimeout: orDefault(opts.ExplainTimeout, time.Second),
		token:          opts.Token,
		act:            opts.Act,
		logger:         opts.Logger,
		secret:         newSecret(),
	}
	if h.client == nil {
		h.client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	for _, addr := range opts.Peers {
		h.peers = append(h.peers, parsePeer(addr))
	}
	title := opts.Title
	if title == "" {
		title = "ngxtasks"
	}
	var page bytes.Buffer
	h.page = template.Must(template.ParseFS(assetFS, "assets/index.html"))
	h.pageData = pageData{Title: title, RefreshMS: orDefault(opts.Refresh, 2*time.Second).Milliseconds(), Act: h.act != nil}
	if h.act != nil {
		h.pageData.CSRF = h.csrfToken()
	}
	if err := h.page.Execute(&page, h.pageData); err != nil {
		panic("status: the embedded page does not render: " + err.Error())
	}
	h.assets = map[string]asset{
		"":        newAsset(page.Bytes(), "text/html; charset=utf-8"),
		"app.js":  newAsset(mustRead("assets/app.js"), "text/javascript; charset=utf-8"),
		"app.css": newAsset(mustRead("assets/app.css"), "text/css; charset=utf-8"),
	}
	return h
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

func mustRead(name string) []byte {
	b, err := assetFS.ReadFile(name)
	if err != nil {
		panic("status: missing embedded asset: " + err.Error())
	}
	return b
}

func newAsset(body []byte, ctype string) asset {
	sum := sha256.Sum256(body)
	return asset{body: body, ctype: ctype, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
}

// ServeHTTP answers GET and HEAD below the mount point: the page ("",
// the mount point itself), app.js, app.css, status.json and history.json;
// and, with Options.Act, POST to act.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	// The page runs only its own script, loads only its own files and
	// inserts data as text: a rule named like markup stays text.
	hd.Set("Content-Security-Policy", "default-src 'self'")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")

	name, ok := route(r)
	switch {
	case !ok:
		writeJSON(w, http.StatusNotFound, Error{Schema: Schema, Error: "not found"})
		return
	case name == "act" && h.act != nil:
		h.serveAct(w, r)
		return
	case r.Method != http.MethodGet && r.Method != http.MethodHead:
		hd.Set("Allow", "GET, HEAD")
		writeJSON(w, http.StatusMethodNotAllowed, Error{Schema: Schema, Error: "read only: GET or HEAD"})
		return
	case name == "/":
		redirectToDir(w, r)
		return
	}
	switch name {
	case "status.json", "history.json":
		if !h.authorized(r) {
			hd.Set("WWW-Authenticate", `Bearer realm="ngxtasks"`)
			writeJSON(w, http.StatusUnauthorized, Error{Schema: Schema, Error: "the status documents need the token (Authorization: Bearer)"})
			return
		}
		if name == "status.json" {
			h.serveStatus(w, r)
		} else {
			h.serveHistory(w, r)
		}
	case "":
		if h.act != nil {
			h.servePage(w, r)
			return
		}
		fallthrough
	default:
		a, ok := h.assets[name]
		if !ok {
			writeJSON(w, http.StatusNotFound, Error{Schema: Schema, Error: "not found"})
			return
		}
		hd.Set("Content-Type", a.ctype)
		hd.Set("ETag", a.etag)
		hd.Set("Cache-Control", "no-cache") // revalidated: a new build serves new assets at once
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(a.body))
	}
}

// servePage serves the page of a Handler with actions: rendered for this
// load, with an action token of its own, and never cached.
func (h *Handler) servePage(w http.ResponseWriter, r *http.Request) {
	data := h.pageData
	data.CSRF = h.csrfToken()
	var page bytes.Buffer
	if err := h.page.Execute(&page, data); err != nil {
		writeJSON(w, http.StatusInternalServerError, Error{Schema: Schema, Error: "the page does not render"})
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(page.Bytes()))
}

// authorized reports whether r carries the token, when there is one.
func (h *Handler) authorized(r *http.Request) bool {
	if h.token == "" {
		return true
	}
	got := r.Header.Get("Authorization")
	return subtle.ConstantTimeCompare([]byte(got), []byte("Bearer "+h.token)) == 1
}

// route finds what a request asks for: the last element of its path ("" for
// the page), or "/" for the mount point without its slash, which is
// redirected to the page. The handler does not know where it is mounted,
// so that it works under any prefix; when a ServeMux pattern names the
// mount point (r.Pattern, "/debug/ngxtasks/"), paths deeper below it are
// not found rather than served as if they were the mount point.
func route(r *http.Request) (name string, ok bool) {
	p := r.URL.Path
	if p == "" { // http.StripPrefix took the whole path, with or without its slash
		if strings.HasSuffix(requestPath(r), "/") {
			return "", true
		}
		return "/", true
	}
	dir, name := path.Split(p)
	if mount := patternPath(r.Pattern); mount != "" {
		switch {
		case p+"/" == mount, p == mount && !strings.HasSuffix(mount, "/"):
			return "/", true
		case strings.HasPrefix(p, mount) && dir != mount:
			return "", false
		}
	}
	return name, true
}

// patternPath is the path of a ServeMux pattern ("GET host/debug/x/" gives
// "/debug/x/"), or "" when it has wildcards, which name no one path.
func patternPath(pattern string) string {
	if i := strings.IndexByte(pattern, ' '); i >= 0 {
		pattern = pattern[i+1:]
	}
	i := strings.IndexByte(pattern, '/')
	if i < 0 || strings.Contains(pattern, "{") {
		return ""
	}
	return pattern[i:]
}

// redirectToDir sends a request for the mount point without its trailing
// slash to the mount point, whose relative links then resolve below it.
// The Location is relative ("./ngxtasks/"), made from the path the client
// asked for: it names the same host, whatever the path held.
func redirectToDir(w http.ResponseWriter, r *http.Request) {
	loc := "./" + path.Base(requestPath(r)) + "/"
	if r.URL.RawQuery != "" {
		loc += "?" + r.URL.RawQuery
	}
	w.Header().Set("Location", loc)
	w.WriteHeader(http.StatusMovedPermanently)
}

// requestPath is the path the client asked for, escaped, before any
// prefix was stripped.
func requestPath(r *http.Request) string {
	if u, err := url.ParseRequestURI(r.RequestURI); err == nil && u.Path != "" {
		return u.EscapedPath()
	}
	return r.URL.EscapedPath()
}

func (h *Handler) serveStatus(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var wait func() []answer[Status]
	if q.Get("local") != "1" && len(h.peers) > 0 {
		wait = askPeers[Status](r.Context(), h, "status.json", nil)
	}
	doc := h.localStatus()
	if wait != nil {
		h.mergeStatus(&doc, wait())
	}
	finishStatus(&doc)
	writeStatus(w, &doc)
}

func (h *Handler) serveHistory(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	id, worker := q.Get("rule"), q.Get("worker")
	if id == "" {
		writeJSON(w, http.StatusBadRequest, Error{Schema: Schema, Error: "history.json needs ?rule=identifier"})
		return
	}
	var wait func() []answer[History]
	if q.Get("local") != "1" && len(h.peers) > 0 {
		fwd := url.Values{"rule": {id}}
		if worker != "" {
			fwd.Set("worker", worker)
		}
		wait = askPeers[History](r.Context(), h, "history.json", fwd)
	}
	doc := h.localHistory(r.Context(), id, worker)
	if wait != nil {
		h.mergeHistory(&doc, wait())
	}
	if len(doc.Workers) == 0 {
		msg := "no worker in this view has rule " + quote(id)
		if worker != "" {
			msg = "worker " + quote(worker) + " is not in this view or has no rule " + quote(id)
		}
		writeJSON(w, http.StatusNotFound, Error{Schema: Schema, Error: msg, Peers: doc.Peers})
		return
	}
	finishHistory(&doc)
	writeJSON(w, http.StatusOK, &doc)
}

// quote quotes s for an error message, cut to a length a message can hold.
func quote(s string) string {
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return strconv.Quote(s)
}

// writeStatus sends doc as writeJSON would, streaming its rows: one
// json.Encoder call per row through a small buffer, rather than one call
// that grows a buffer to the whole document (megabytes at 10,000 rules,
// grown anew at every request whenever a collection emptied the
// encoder's pool, which a status.json of that size itself brings about).
func writeStatus(w http.ResponseWriter, doc *Status) {
	rules := doc.Rules
	doc.Rules = []Rule{}
	head, err := json.Marshal(doc)
	doc.Rules = rules
	const tail = `"rules":[]}`
	if err != nil || !bytes.HasSuffix(head, []byte(tail)) { // Rules is no longer the last field
		writeJSON(w, http.StatusOK, doc)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "application/json; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.Write(head[:len(head)-2]) // without "]}"
	enc := json.NewEncoder(bw)
	for i := range rules {
		if i > 0 {
			bw.WriteByte(',')
		}
		_ = enc.Encode(&rules[i]) // cannot fail; ends with a newline, which JSON allows
	}
	bw.WriteString("]}\n")
	_ = bw.Flush()
}

// writeJSON sends v, which is never cached: it is the present. The
// documents hold strings, numbers and flags only, so encoding cannot fail;
// the encoder writes the whole document at once, from a buffer it reuses
// (status.json of 10,000 rules is megabytes).
func writeJSON(w http.ResponseWriter, code int, v any) {
	hd := w.Header()
	hd.Set("Content-Type", "application/json; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
