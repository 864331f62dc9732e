package master

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// connLimit holds at most max connections open at once. A connection
// accepted beyond that takes the place of the one that has waited longest
// for a request (new, or idle between keep-alive requests), which is
// closed: whoever opens connections and sends nothing holds at most max
// descriptors, for no longer than the next real request. When every
// connection is busy with a request the new one is closed at once.
//
// The server reports each connection's state to it (track, as
// http.Server.ConnState).
type connLimit struct {
	net.Listener
	max int

	mu    sync.Mutex
	conns map[*limitedConn]time.Time // open; the time it began waiting, zero while it has a request
}

func newConnLimit(ln net.Listener, max int) *connLimit {
	return &connLimit{Listener: ln, max: max, conns: make(map[*limitedConn]time.Time, max)}
}

// Accept returns the next connection, making room for it.
func (l *connLimit) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		lc := &limitedConn{Conn: c, limit: l}
		evict, ok := l.makeRoom(lc)
		if evict != nil {
			_ = evict.Close()
		}
		if ok {
			return lc, nil
		}
		_ = c.Close()
	}
}

// makeRoom counts c in, and returns the waiting connection to close for it,
// if one must be; ok is false when every connection is busy.
func (l *connLimit) makeRoom(c *limitedConn) (evict *limitedConn, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.conns) >= l.max {
		var oldest time.Time
		for o, since := range l.conns {
			if !since.IsZero() && (evict == nil || since.Before(oldest)) {
				evict, oldest = o, since
			}
		}
		if evict == nil {
			return nil, false
		}
		delete(l.conns, evict)
	}
	l.conns[c] = time.Now()
	return evict, true
}

// track follows the server's view of a connection: waiting for a
// request (new, idle) or serving one (active).
func (l *connLimit) track(c net.Conn, state http.ConnState) {
	lc, ok := c.(*limitedConn)
	if !ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, open := l.conns[lc]; !open {
		return // closed, or evicted
	}
	switch state {
	case http.StateActive:
		l.conns[lc] = time.Time{}
	case http.StateIdle:
		l.conns[lc] = time.Now()
	case http.StateHijacked, http.StateClosed:
		delete(l.conns, lc)
	}
}

// limitedConn leaves its limit's count when closed.
type limitedConn struct {
	net.Conn
	limit *connLimit
}

func (c *limitedConn) Close() error {
	c.limit.mu.Lock()
	delete(c.limit.conns, c)
	c.limit.mu.Unlock()
	return c.Conn.Close()
}
