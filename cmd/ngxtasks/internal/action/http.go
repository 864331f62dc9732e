package action

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/ngxtasks/ngxtasks/cmd/ngxtasks/internal/rulefile"
)

// RunIDHeader carries Firing.RunID, so that the receiver can tell runs
// apart and match its logs with the worker's.
const RunIDHeader = "Ngxtasks-Run-Id"

// TokenHeader carries Firing.Token, the fencing token of the run's lease,
// when the rule holds one: the receiver can refuse a token lower than the
// highest it has seen, and so a run whose lease passed to another.
const TokenHeader = "Ngxtasks-Lease-Token"

// userAgent is sent unless the rule sets its own.
const userAgent = "ngxtasks"

// noRedirectClient is the client HTTP uses when given none. It does not
// follow redirects: a rule names the URL it means, a redirect is reported
// as its 3xx status, and the rule's headers (credentials, often) go to no
// other address than the one the rule file names.
var noRedirectClient = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// HTTP sends the request of an http: rule with client (nil: one that
// follows no redirects) and reads the response body, keeping its last
// h.OutputLimit bytes. h.Timeout, when set, bounds the whole exchange,
// body included, within ctx.
//
// A status h does not accept is an error ("unexpected status 500 Internal
// Server Error"), with the Result filled in. Errors name the method and the
// URL's template, never the expanded URL or a header value; they wrap the
// underlying error, so errors.Is(err, context.DeadlineExceeded) tells a
// timeout.
func HTTP(ctx context.Context, client *http.Client, h *rulefile.HTTP, f Firing) (Result, error) {
	var res Result
	if client == nil {
		client = noRedirectClient
	}
	if h.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, h.Timeout)
		defer cancel()
	}
	req, err := newRequest(ctx, h, f)
	if err != nil {
		return res, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return res, requestFailed(h, err)
	}
	defer resp.Body.Close()
	res.Status = resp.StatusCode

	tail := newTailBuffer(h.OutputLimit)
	readErr := readTail(tail, resp.Body)
	res.Output, res.Dropped = tail.Bytes(), tail.Dropped()
	if readErr != nil {
		return res, requestFailed(h, fmt.Errorf("reading the response body: %w", withoutURL(readErr)))
	}
	if !h.Accepts(resp.StatusCode) {
		return res, fmt.Errorf("%s %s: unexpected status %s", h.Method, h.URL.Template, statusText(resp.StatusCode))
	}
	return res, nil
}

func newRequest(ctx context.Context, h *rulefile.HTTP, f Firing) (*http.Request, error) {
	var body io.Reader
	if b := h.Body.Expanded(); b != "" {
		body = strings.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, h.Method, h.URL.Expanded(), body)
	if err != nil {
		// A URL parse error quotes the URL; the loader checked it,
		// so this is about the method, or a URL that cannot be.
		var ue *url.Error
		if errors.As(err, &ue) {
			return nil, fmt.Errorf("%s %s: not a valid URL once expanded", h.Method, h.URL.Template)
		}
		return nil, fmt.Errorf("%s %s: %w", h.Method, h.URL.Template, err)
	}
	req.Header.Set("User-Agent", userAgent)
	for _, hd := range h.Headers {
		if http.CanonicalHeaderKey(hd.Name) == "Host" {
			req.Host = hd.Value.Expanded() // net/http sends req.Host, not Header["Host"]
			continue
		}
		req.Header.Set(hd.Name, hd.Value.Expanded())
	}
	req.Header.Set(RunIDHeader, f.RunID)
	if f.Token != 0 {
		req.Header.Set(TokenHeader, strconv.FormatUint(f.Token, 10))
	}
	return req, nil
}

// requestFailed reports a failed exchange as "METHOD template: cause".
func requestFailed(h *rulefile.HTTP, err error) error {
	return &requestError{method: h.Method, url: h.URL.Template, err: withoutURL(err)}
}

// withoutURL strips net/http's *url.Error, whose message quotes the
// expanded URL (a ?key=secret with it), leaving the cause it wraps.
func withoutURL(err error) error {
	for {
		ue, ok := err.(*url.Error)
		if !ok || ue.Err == nil {
			return err
		}
		err = ue.Err
	}
}

// requestError is a failed exchange, named by the URL's template.
type requestError struct {
	method, url string
	err         error
}

func (e *requestError) Error() string { return e.method + " " + e.url + ": " + e.err.Error() }
func (e *requestError) Unwrap() error { return e.err }

// statusText is "500 Internal Server Error": the number and Go's text for
// it, not the server's reason phrase, which the server chooses.
func statusText(code int) string {
	if text := http.StatusText(code); text != "" {
		return strconv.Itoa(code) + " " + text
	}
	return strconv.Itoa(code)
}
