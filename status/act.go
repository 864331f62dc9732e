package status

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ngxtasks/ngxtasks"
)

// Actions: the page's Trigger, Pause and Resume buttons, and the POST
// below the mount point they send (doc.go, "Actions").

// An ActionKind is what an Action does.
type ActionKind string

// The kinds of Action, as the page and the act document name them.
const (
	ActTrigger ActionKind = "trigger" // ngxtasks.Manager.Trigger
	ActPause   ActionKind = "pause"   // ngxtasks.Manager.Pause
	ActResume  ActionKind = "resume"  // ngxtasks.Manager.Resume
)

// An Action is an operator's act on a rule, for the whole fleet. It is
// also the JSON body of a POST to act (Origin excepted, which the Handler
// sets).
type Action struct {
	Rule  string     `json:"rule"`
	Kind  ActionKind `json:"kind"`
	Until time.Time  `json:"until,omitzero"` // pause: zero until resumed
	Note  string     `json:"note,omitzero"`  // pause, resume
	Force bool       `json:"force,omitzero"` // trigger: even while held or paused
	// Origin names who acts, for the log and the pause record
	// (ngxtasks.WithOrigin): the Handler sets "status page from
	// <client address>", whatever the request said.
	Origin string `json:"origin,omitzero"`
}

// ErrNoRule is matched by an Act's error when no Manager has the rule.
var ErrNoRule = errors.New("no such rule")

// maxNote bounds an Action's note, as the core keeps it (512 bytes).
const maxNote = 512

// check reports what is wrong with a, if anything.
func (a *Action) check() error {
	switch {
	case a.Rule == "":
		return errors.New("an action needs a rule")
	case len(a.Rule) > 1024:
		return errors.New("the rule's identifier is too long")
	case a.Kind != ActTrigger && a.Kind != ActPause && a.Kind != ActResume:
		return fmt.Errorf("unknown action %q: trigger, pause or resume", clipText(string(a.Kind), 40))
	case len(a.Note) > maxNote:
		return fmt.Errorf("the note is %d bytes; at most %d", len(a.Note), maxNote)
	case a.Kind != ActPause && !a.Until.IsZero():
		return errors.New("until is for pause alone")
	case a.Kind != ActTrigger && a.Force:
		return errors.New("force is for trigger alone")
	case a.Kind == ActTrigger && a.Note != "":
		return errors.New("a trigger takes no note")
	}
	return nil
}

// Describe says what a done action did, for people: "paused rule x until
// 2026-12-08T10:00:00Z: deploying".
func (a *Action) Describe() string {
	s := ""
	switch a.Kind {
	case ActTrigger:
		s = "triggered " + a.Rule
		if a.Force {
			s += " (forced)"
		}
	case ActPause:
		s = "paused " + a.Rule
		if !a.Until.IsZero() {
			s += " until " + a.Until.UTC().Format(time.RFC3339)
		}
	case ActResume:
		s = "resumed " + a.Rule
	}
	if a.Note != "" {
		s += ": " + a.Note
	}
	return s
}

// LocalAct acts on the local Managers, for Options.Act: Trigger on the
// first Manager that has the rule; Pause and Resume through it too, for
// the dictionary tells the others (Managers that share one, as a fleet's
// do; each obeys within a second). Its error is the core's
// (ngxtasks.ErrTriggered, a *ngxtasks.HeldError, a *ngxtasks.PausedError)
// or ErrNoRule.
func LocalAct(managers ...*ngxtasks.Manager) func(context.Context, Action) error {
	return func(ctx context.Context, a Action) error {
		for _, m := range managers {
			if _, ok := ruleNamed(m, a.Rule); !ok {
				continue
			}
			return Perform(ctx, m, a)
		}
		return fmt.Errorf("%w %q", ErrNoRule, clipText(a.Rule, 200))
	}
}

// Perform does a on m, naming a.Origin as who acts (ngxtasks.WithOrigin).
func Perform(ctx context.Context, m *ngxtasks.Manager, a Action) error {
	if err := a.check(); err != nil {
		return fmt.Errorf("%w: %v", errBadAction, err)
	}
	if _, ok := ruleNamed(m, a.Rule); !ok {
		return fmt.Errorf("%w %q", ErrNoRule, clipText(a.Rule, 200))
	}
	if a.Origin != "" {
		ctx = ngxtasks.WithOrigin(ctx, a.Origin)
	}
	switch a.Kind {
	case ActTrigger:
		return m.Trigger(ctx, a.Rule, a.Force)
	case ActPause:
		return m.Pause(ctx, a.Rule, a.Until, a.Note)
	default:
		return m.Resume(ctx, a.Rule, a.Note)
	}
}

// ActAnswer is the answer to an action: the JSON document a POST to act
// answers, and what a process that acted for another sends back (the
// ngxtasks command's workers to their master). Err gives the error again.
type ActAnswer struct {
	Schema  string `json:"schema"`
	OK      bool   `json:"ok"`
	Message string `json:"message"` // what was done, or why not
	// Reason, for a refused action: "triggered" (ErrTriggered: another
	// trigger within the second runs), "running elsewhere" (HeldError:
	// Holder, Token), "paused" (PausedError: Paused), "no rule", "bad
	// request", "unauthorized", "cross-site", "failed".
	Reason string  `json:"reason,omitzero"`
	Holder string  `json:"holder,omitzero"`
	Token  uint64  `json:"token,omitzero"`
	Paused *Paused `json:"paused,omitzero"`
}

// Answer is the answer to a, done (err nil) or refused with err.
func Answer(a *Action, err error) ActAnswer {
	ans := ActAnswer{Schema: Schema, OK: err == nil}
	if err == nil {
		ans.Message = a.Describe()
		return ans
	}
	ans.Message = strings.TrimPrefix(err.Error(), "ngxtasks: ")
	var held *ngxtasks.HeldError
	var paused *ngxtasks.PausedError
	switch {
	case errors.Is(err, ngxtasks.ErrTriggered):
		ans.Reason = "triggered"
		ans.Message = "already triggered: " + a.Rule + " was triggered within the last second; that trigger runs"
	case errors.As(err, &held):
		ans.Reason, ans.Holder, ans.Token = "running elsewhere", held.Holder, held.Token
	case errors.As(err, &paused):
		ans.Reason, ans.Paused = "paused", pauseOf(paused.Pause)
	case errors.Is(err, ErrNoRule):
		ans.Reason = "no rule"
	case errors.Is(err, errBadAction):
		ans.Reason = "bad request"
	default:
		ans.Reason = "failed"
	}
	return ans
}

// errBadAction marks an action that is not one (Action.check).
var errBadAction = errors.New("bad action")

// Err is the error the answer says, as the core's types where it names
// them (ngxtasks.ErrTriggered, *HeldError, *PausedError, ErrNoRule),
// nil for a done action.
func (ans *ActAnswer) Err() error {
	if ans.OK {
		return nil
	}
	switch ans.Reason {
	case "triggered":
		return &answerError{ans.Message, ngxtasks.ErrTriggered}
	case "running elsewhere":
		return &ngxtasks.HeldError{Holder: ans.Holder, Token: ans.Token}
	case "paused":
		p := ngxtasks.Pause{}
		if ans.Paused != nil {
			p.Origin, p.Note = ans.Paused.Origin, ans.Paused.Note
			p.Until, _ = time.Parse(time.RFC3339Nano, ans.Paused.Until)
		}
		return &ngxtasks.PausedError{Pause: p}
	case "no rule":
		return &answerError{ans.Message, ErrNoRule}
	case "bad request":
		return &answerError{ans.Message, errBadAction}
	}
	return errors.New(ans.Message)
}

// answerError is an answer's error: its message, matching the error it
// stands for.
type answerError struct {
	msg string
	is  error
}

func (e *answerError) Error() string { return e.msg }
func (e *answerError) Unwrap() error { return e.is }

func pauseOf(p ngxtasks.Pause) *Paused {
	return &Paused{Origin: p.Origin, Until: stamp(p.Until), Note: p.Note}
}

// ParseUntil reads a pause's end: an RFC 3339 time, or a duration from
// now (Go syntax: "30m", "1h30m"). "" is zero: until resumed.
func ParseUntil(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d <= 0 {
			return time.Time{}, fmt.Errorf("until %q: a duration from now must be positive", s)
		}
		return now.Add(d), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("until %q is neither an RFC 3339 time (2026-12-08T10:00:00Z) nor a duration from now (30m)", clipText(s, 60))
	}
	if !t.After(now) {
		return time.Time{}, fmt.Errorf("until %s has passed", t.Format(time.RFC3339))
	}
	return t, nil
}

func clipText(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// The page's action token: a random nonce and its HMAC under the
// Handler's secret, made for each page load and checked in constant time.
// It is no session: it proves only that the request's script read a page
// this Handler served, which a page of another site cannot (the same-origin
// policy keeps the page's text from it).
const (
	csrfHeader = "Ngxtasks-Csrf"
	nonceLen   = 16
)

func newSecret() []byte {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return b
}

func (h *Handler) csrfToken() string {
	b := make([]byte, nonceLen, nonceLen+sha256.Size)
	_, _ = rand.Read(b)
	mac := hmac.New(sha256.New, h.secret)
	mac.Write(b)
	return base64.RawURLEncoding.EncodeToString(mac.Sum(b))
}

func (h *Handler) csrfValid(tok string) bool {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(b) != nonceLen+sha256.Size {
		return false
	}
	mac := hmac.New(sha256.New, h.secret)
	mac.Write(b[:nonceLen])
	return hmac.Equal(mac.Sum(nil), b[nonceLen:])
}

// sameOrigin reports whether r comes from a page of the Handler's own
// origin, as a browser says (doc.go, "Actions"): its Origin header, when
// there is one, names the host r is for; its Sec-Fetch-Site, when there
// is one, is same-origin. A request with neither is not from a browser
// (every browser sends Origin with a POST), and passes.
func sameOrigin(r *http.Request) bool {
	if o, ok := r.Header["Origin"]; ok {
		if len(o) != 1 {
			return false
		}
		u, err := url.Parse(o[0])
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") || !strings.EqualFold(u.Host, r.Host) {
			return false
		}
	}
	if s, ok := r.Header["Sec-Fetch-Site"]; ok && (len(s) != 1 || s[0] != "same-origin") {
		return false
	}
	return true
}

// LogAction logs an action and its answer, as Options.Logger does: at
// Info when done ("ngxtasks: action done"), at Warn when refused or failed
// ("ngxtasks: action refused", with the reason and the message), with
// action, rule, origin, note, until and force. attrs come after those.
func LogAction(l *slog.Logger, a *Action, ans *ActAnswer, attrs ...any) {
	all := []any{"action", string(a.Kind), "rule", a.Rule, "origin", a.Origin}
	if a.Note != "" {
		all = append(all, "note", a.Note)
	}
	if !a.Until.IsZero() {
		all = append(all, "until", a.Until)
	}
	if a.Force {
		all = append(all, "force", true)
	}
	all = append(all, attrs...)
	if ans.OK {
		l.Info("ngxtasks: action done", all...)
		return
	}
	all = append(all, "reason", ans.Reason, "error", ans.Message)
	l.Warn("ngxtasks: action refused", all...)
}

// actRequest is the body of a POST to act: an Action whose until is text,
// as ParseUntil reads it.
type actRequest struct {
	Rule  string     `json:"rule"`
	Kind  ActionKind `json:"kind"`
	Until string     `json:"until"`
	Note  string     `json:"note"`
	Force bool       `json:"force"`
}

// actTimeout bounds an action: the core's own calls are bounded by the
// Manager, a command's forwarding to a worker is not.
const actTimeout = 15 * time.Second

// serveAct answers a POST to act: the checks in the order doc.go gives,
// then the action.
func (h *Handler) serveAct(w http.ResponseWriter, r *http.Request) {
	refuse := func(code int, reason, msg string) {
		writeJSON(w, code, ActAnswer{Schema: Schema, Reason: reason, Message: msg})
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		refuse(http.StatusMethodNotAllowed, "bad request", "act takes POST alone")
		return
	}
	if !h.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="ngxtasks"`)
		refuse(http.StatusUnauthorized, "unauthorized", "actions need the token (Authorization: Bearer)")
		return
	}
	if !sameOrigin(r) {
		refuse(http.StatusForbidden, "cross-site", "refused: the request does not come from this page's own origin")
		return
	}
	if !h.csrfValid(r.Header.Get(csrfHeader)) {
		refuse(http.StatusForbidden, "cross-site", "refused: the page's action token is missing or wrong; reload the page")
		return
	}
	if ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || ct != "application/json" {
		refuse(http.StatusUnsupportedMediaType, "bad request", "an action is a JSON document (Content-Type: application/json)")
		return
	}
	var req actRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, 16<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		refuse(http.StatusBadRequest, "bad request", "reading the action: "+err.Error())
		return
	}
	until, err := ParseUntil(req.Until, time.Now())
	if err != nil {
		refuse(http.StatusBadRequest, "bad request", err.Error())
		return
	}
	a := Action{Rule: req.Rule, Kind: req.Kind, Until: until, Note: strings.TrimSpace(req.Note), Force: req.Force}
	if err := a.check(); err != nil {
		refuse(http.StatusBadRequest, "bad request", err.Error())
		return
	}
	a.Origin = "status page from " + r.RemoteAddr
	ctx, cancel := context.WithTimeout(r.Context(), actTimeout)
	defer cancel()
	ans := Answer(&a, h.act(ctx, a))
	if h.logger != nil {
		LogAction(h.logger, &a, &ans)
	}
	code := http.StatusOK
	switch ans.Reason {
	case "":
	case "triggered", "running elsewhere", "paused":
		code = http.StatusConflict
	case "no rule":
		code = http.StatusNotFound
	case "bad request":
		code = http.StatusBadRequest
	default:
		code = http.StatusBadGateway
	}
	writeJSON(w, code, ans)
}
