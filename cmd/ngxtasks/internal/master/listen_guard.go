package master

import (
	"crypto/subtle"
	"net"
	"net/http"
	"strings"
)

// readOnly answers GET and HEAD only, but for the status page's actions
// (POST /act, which the status handler guards and answers 405 to other
// methods): anything else is a mistake or a probe (405, with Allow).
func readOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/act" {
			next.ServeHTTP(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "read only: GET or HEAD", http.StatusMethodNotAllowed)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// localHostsOnly answers only requests whose Host names this machine's
// loopback (localhost, any 127/8 address, ::1) or the listen address's
// own host. Without a token the listener is on loopback, and a browser
// reaches it for any page: one from another site, whose name it rebinds
// to 127.0.0.1, would send its own name as the Host and read the
// documents. With a token the Host is not checked (the token is what
// lets a request in).
func localHostsOnly(listenHost string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !isLocalHost(r.Host, listenHost) {
			http.Error(w, "this listener answers only requests for localhost or a loopback address (the Host header); give it a token (token_env) to serve other names", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// isLocalHost reports whether the Host header hostport (with or without
// a port, IPv6 literals in brackets) names loopback or listenHost.
func isLocalHost(hostport, listenHost string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	} else if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1]
	}
	host = strings.ToLower(host)
	if host == "" {
		return false
	}
	return isLoopback(host) || (listenHost != "" && host == strings.ToLower(listenHost))
}

// authorize asks for the bearer token when there is one. Without one the
// listener is on loopback (Resolve refuses otherwise) and its requests
// must name it (localHostsOnly).
func authorize(token string, next http.Handler) http.Handler {
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := []byte(r.Header.Get("Authorization"))
		if subtle.ConstantTimeCompare(got, want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="ngxtasks"`)
			http.Error(w, "a bearer token is required", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}
