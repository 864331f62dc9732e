package master

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ngxtasks/ngxtasks/status"
)

// Actions (ngxtasks trigger|pause|resume, the status page's buttons) reach
// the master over its control socket (POST /act, a status.Action as JSON,
// answered with a status.ActAnswer) or through its listener's status page
// (status.Options.Act). The master passes each to one worker process that
// is up, over the worker's status socket (POST /act): Trigger runs the
// rule once for the fleet from there, and Pause and Resume go through the
// dictionary to every worker sharing it, so one worker suffices. A worker
// that cannot be reached is passed over for the next.

// actTimeout bounds one worker's answer to an action.
const actTimeout = 10 * time.Second

// act passes a to one worker and returns its answer's error; it logs the
// action, its origin and note, and what came of it.
func (m *Master) act(ctx context.Context, a status.Action) error {
	body, err := json.Marshal(a)
	if err != nil {
		return err
	}
	client := m.socketClient()
	defer client.CloseIdleConnections() // the workers' servers keep idle connections
	var errs []error
	for _, p := range m.workers {
		p.mu.Lock()
		up := p.up
		p.mu.Unlock()
		if !up {
			continue
		}
		ans, err := m.askWorker(ctx, client, p, body)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p.name, err))
			continue
		}
		m.logAction(&a, p.name, ans)
		return ans.Err()
	}
	err = errors.New("no worker could be reached")
	if len(errs) > 0 {
		err = fmt.Errorf("no worker could be reached: %w", errors.Join(errs...))
	}
	m.logAction(&a, "", &status.ActAnswer{Reason: "failed", Message: err.Error()})
	return err
}

// askWorker sends an action to worker p and reads its answer.
func (m *Master) askWorker(ctx context.Context, client *http.Client, p *proc, body []byte) (*status.ActAnswer, error) {
	ctx, cancel := context.WithTimeout(ctx, actTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, fmt.Sprintf("http://w%d/act", p.index), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var ans status.ActAnswer
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&ans); err != nil {
		return nil, fmt.Errorf("its answer (%s): %w", resp.Status, err)
	}
	return &ans, nil
}

// logAction logs an action and its outcome: info when done, warn when
// refused or failed.
func (m *Master) logAction(a *status.Action, worker string, ans *status.ActAnswer) {
	var attrs []any
	if worker != "" {
		attrs = append(attrs, "through", worker)
	}
	status.LogAction(m.log, a, ans, attrs...)
}

// serveAct answers POST /act on the control socket: the command's
// trigger, pause and resume. The origin is the command's, with the user
// the kernel says connected (SO_PEERCRED), whatever the request says.
func (m *Master) serveAct(w http.ResponseWriter, r *http.Request) {
	var a status.Action
	dec := json.NewDecoder(io.LimitReader(r.Body, 16<<10))
	err := dec.Decode(&a)
	if err == nil {
		a.Origin = "ngxtasks " + string(a.Kind) + " (cli" + peerOf(r.Context()) + ")"
		err = m.act(r.Context(), a)
	} else {
		err = fmt.Errorf("reading the action: %w", err)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(status.Answer(&a, err))
}

type peerKey struct{}

// withPeer is the control server's ConnContext: it notes the uid and pid
// of the process at the other end of a Unix socket.
func withPeer(ctx context.Context, c net.Conn) context.Context {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return ctx
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return ctx
	}
	var cred *unix.Ucred
	_ = raw.Control(func(fd uintptr) {
		cred, _ = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	})
	if cred == nil {
		return ctx
	}
	return context.WithValue(ctx, peerKey{}, fmt.Sprintf(", uid %d, pid %d", cred.Uid, cred.Pid))
}

func peerOf(ctx context.Context) string {
	s, _ := ctx.Value(peerKey{}).(string)
	return s
}
