package mounttest

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/labstack/echo/v4"

	"github.com/ngxtasks/ngxtasks"
)

// rewriting returns a manager whose one Normal rule, due at the first
// request (its first step), rewrites that request's response body.
func rewriting(t *testing.T) *ngxtasks.Manager {
	t.Helper()
	m := &ngxtasks.Manager{}
	err := m.Push(ngxtasks.Rule{Identifier: "rewrite", Interval: time.Hour, Type: ngxtasks.Normal, Drive: ngxtasks.DriveRequest,
		Callback: func(_ context.Context, f ngxtasks.Firing) error {
			f.Exchange.Rewrite(func(r *ngxtasks.Response) { r.Body = append([]byte("[rewritten] "), r.Body...) })
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Shutdown(context.Background()) })
	return m
}

// check sends one request to a new server of h and wants status and a
// body that the rule rewrote.
func check(t *testing.T, h http.Handler, path string, status int) {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != status || !strings.HasPrefix(string(body), "[rewritten] ") {
		t.Errorf("GET %s: %d %q; want %d with the rewritten body", path, resp.StatusCode, body, status)
	}
}

func TestServeMuxMiddlewareRewritesAndKeepsTheStatus(t *testing.T) {
	for path, status := range map[string]int{"/teapot": http.StatusTeapot, "/nowhere": http.StatusNotFound} {
		mux := http.NewServeMux()
		mux.HandleFunc("GET /teapot", func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "short and stout", http.StatusTeapot)
		})
		check(t, rewriting(t).Middleware(mux), path, status)
	}
}

func TestChiMiddlewareRewritesAndKeepsTheStatus(t *testing.T) {
	for path, status := range map[string]int{"/teapot": http.StatusTeapot, "/nowhere": http.StatusNotFound} {
		r := chi.NewRouter()
		r.Use(rewriting(t).Middleware) // as docs/library.md says
		r.Get("/teapot", func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "short and stout", http.StatusTeapot)
		})
		check(t, r, path, status)
	}
}

// TestEchoWrappedRewritesAndKeepsItsErrors: wrapping the echo instance, as
// docs/library.md says, keeps what echo writes after its handlers return: the
// error a handler returned and the 404 of an unknown route.
// (e.Use(echo.WrapMiddleware(m.Middleware)), which the README once said, sent
// the rewritten response before echo's error handler ran: 200 for both.)
func TestEchoWrappedRewritesAndKeepsItsErrors(t *testing.T) {
	for path, status := range map[string]int{"/teapot": http.StatusTeapot, "/nowhere": http.StatusNotFound, "/ok": http.StatusOK} {
		e := echo.New()
		e.GET("/teapot", func(echo.Context) error {
			return echo.NewHTTPError(http.StatusTeapot, "short and stout")
		})
		e.GET("/ok", func(c echo.Context) error { return c.String(http.StatusOK, "fine") })
		check(t, rewriting(t).Middleware(e), path, status)
	}
}

// TestEchoWrapMiddlewareLosesErrors keeps the record of why docs/library.md
// does not mount with echo.WrapMiddleware: the response is sent when the
// wrapped handler returns, before echo's error handler runs.
func TestEchoWrapMiddlewareLosesErrors(t *testing.T) {
	e := echo.New()
	e.Use(echo.WrapMiddleware(rewriting(t).Middleware))
	e.GET("/teapot", func(echo.Context) error {
		return echo.NewHTTPError(http.StatusTeapot, "short and stout")
	})
	srv := httptest.NewServer(e)
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + "/teapot")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("echo.WrapMiddleware gave %d for a handler's 418 (it gave 200); if it keeps errors now, the README may offer it again", resp.StatusCode)
	}
}
