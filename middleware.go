package ngxtasks

import (
	"bytes"
	"errors"
	"net/http"
	"strconv"
)

// Middleware drives the manager from HTTP requests, the original's per-request
// mode: each request is a drive step before the handler. When nothing is due
// it costs one clock read and does not allocate; when a rule is due, exactly
// one of the concurrent requests takes its slot and runs it, and the
// callback may change that request's response through Firing.Exchange.
//
// It fits any router that takes func(http.Handler) http.Handler: chi's
// r.Use(m.Middleware), or wrap a ServeMux. Wrap gin's engine and echo's
// instance whole (http.ListenAndServe(addr, m.Middleware(e))): echo writes
// a handler's returned error after its middleware has returned, so through
// echo.WrapMiddleware a rewritten response would go out first, as a 200.
func (m *Manager) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if m.sinceEpoch() < m.gates[DriveRequest].Load() {
			next.ServeHTTP(w, r)
			return
		}
		ex := &Exchange{Request: r, w: w}
		if err := m.drive(r.Context(), DriveRequest, ex); err != nil && errors.Is(err, ErrInvalidConfig) { // other failures are reported as events
			m.unusable.Do(func() {
				m.logger.Error("ngxtasks: this manager cannot run rules; requests are served without them", "worker", m.worker, "error", err)
			})
		}
		ex.finish(next)
	})
}

// An Exchange is the request that drives a run and the response it will get.
// A callback may set headers, answer the request itself (the handler is then
// not called), or rewrite what the handler produces. It is only valid during
// the callback.
type Exchange struct {
	Request *http.Request

	w        http.ResponseWriter
	answer   *Response
	rewrites []func(*Response)
}

// Response is a response being written: what Respond set, or what the
// handler produced, for Rewrite functions to change.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Header returns the response's header map; changes reach the client.
func (x *Exchange) Header() http.Header { return x.w.Header() }

// Respond answers the request with status and body; the handler is not called.
func (x *Exchange) Respond(status int, body []byte) {
	x.answer = &Response{Status: status, Header: x.w.Header(), Body: body}
}

// Rewrite registers fn to change the response after the handler (or
// Respond) made it and before it is sent. The handler's output is buffered
// for this, so streaming and http.Flusher do not pass through.
func (x *Exchange) Rewrite(fn func(*Response)) {
	x.rewrites = append(x.rewrites, fn)
}

// finish serves the request as the callbacks left it.
func (x *Exchange) finish(next http.Handler) {
	res := x.answer
	if res == nil {
		if len(x.rewrites) == 0 {
			next.ServeHTTP(x.w, x.Request)
			return
		}
		rec := &recorder{header: x.w.Header()}
		next.ServeHTTP(rec, x.Request)
		res = &Response{Status: cmpStatus(rec.status), Header: rec.header, Body: rec.body.Bytes()}
	}
	for _, fn := range x.rewrites {
		fn(res)
	}
	h := x.w.Header()
	if res.Header != nil {
		for k := range h {
			if _, ok := res.Header[k]; !ok {
				delete(h, k)
			}
		}
		for k, v := range res.Header {
			h[k] = v
		}
	}
	h.Set("Content-Length", strconv.Itoa(len(res.Body)))
	x.w.WriteHeader(cmpStatus(res.Status))
	_, _ = x.w.Write(res.Body)
}

func cmpStatus(s int) int {
	if s == 0 {
		return http.StatusOK
	}
	return s
}

// recorder buffers a handler's response for Rewrite.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *recorder) Write(p []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.body.Write(p)
}
