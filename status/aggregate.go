package status

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/ngxtasks/ngxtasks"
)

// A fleet's workers live in many processes, each serving its own Handler.
// A Handler given Options.Peers asks each of them for the same document
// with local=1, which a peer answers from its own Managers only, so that
// peers that list one another do not ask one another again and again.
// The peers are asked concurrently, each within Options.PeerTimeout, while
// the local Managers are read; a peer that fails is listed with its error
// and the view goes on without it.
//
// Peers come from the operator's configuration only. What a request holds
// (rule, worker) travels as query parameters to those addresses, never as
// an address: the handler fetches no URL a request names, and follows no
// redirect unless Options.Client does.

// maxPeerBody bounds a peer's answer. status.json of 10,000 rules is about
// 10 MB.
const maxPeerBody = 256 << 20

// peer is one address of Options.Peers.
type peer struct {
	shown string   // as the documents show it: without a password
	base  *url.URL // nil when the address is unusable; err says why
	err   error
}

func parsePeer(addr string) peer {
	p := peer{shown: ngxtasks.RedactURL(addr)}
	u, err := url.Parse(addr)
	switch {
	case err != nil:
		p.err = errors.New("not a URL")
	case u.Scheme != "http" && u.Scheme != "https", u.Host == "":
		p.err = errors.New("not an http:// or https:// URL")
	default:
		// The peer is mounted like this handler: documents are below its
		// address, which therefore is a directory.
		if !strings.HasSuffix(u.Path, "/") {
			u.Path += "/"
			if u.RawPath != "" {
				u.RawPath += "/"
			}
		}
		u.RawQuery, u.Fragment = "", ""
		p.base = u
	}
	return p
}

// document is a Status or a History, being read from a peer.
type document interface{ schema() string }

func (s *Status) schema() string  { return s.Schema }
func (s *History) schema() string { return s.Schema }

// answer is one peer's reply: its document, or why there is none.
// Missing is set when the peer answered, in this schema, that it has no
// such rule (history.json); that is not an error.
type answer[T any] struct {
	doc     T
	missing bool
	err     error
}

// askPeers starts asking every peer for the document at ref (relative to
// the peer's address, local=1 added) and returns a function that waits for
// their answers, in the order of Options.Peers.
func askPeers[T any, PT interface {
	*T
	document
}](ctx context.Context, h *Handler, ref string, query url.Values) func() []answer[T] {
	q := url.Values{}
	for k, v := range query {
		q[k] = v
	}
	q.Set("local", "1")
	rel := &url.URL{Path: ref, RawQuery: q.Encode()}
	answers := make([]answer[T], len(h.peers))
	var wg sync.WaitGroup
	for i := range h.peers {
		p := &h.peers[i]
		if p.base == nil {
			answers[i].err = p.err
			continue
		}
		wg.Go(func() {
			answers[i].missing, answers[i].err = h.fetch(ctx, p.base.ResolveReference(rel), PT(&answers[i].doc))
		})
	}
	return func() []answer[T] {
		wg.Wait()
		return answers
	}
}

// fetch GETs one document into doc, which must carry the schema's name.
func (h *Handler) fetch(ctx context.Context, u *url.URL, doc document) (missing bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, h.peerTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return false, err
	}
	req.Header.Set("Accept", "application/json")
	if h.token != "" {
		req.Header.Set("Authorization", "Bearer "+h.token)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // not the URL again: the page shows it beside the error
		}
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
			err = fmt.Errorf("no answer within %v", h.peerTimeout)
		}
		return false, err
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(io.LimitReader(resp.Body, maxPeerBody))
	if resp.StatusCode != http.StatusOK {
		var e Error
		if dec.Decode(&e) == nil && e.Schema == Schema {
			if resp.StatusCode == http.StatusNotFound {
				return true, nil
			}
			return false, fmt.Errorf("answered %s: %s", resp.Status, e.Error)
		}
		return false, fmt.Errorf("answered %s", resp.Status)
	}
	if err := dec.Decode(doc); err != nil {
		return false, fmt.Errorf("not a status document: %w", err)
	}
	if got := doc.schema(); got != Schema {
		return false, fmt.Errorf("speaks schema %q, not %q", got, Schema)
	}
	return false, nil
}

// peerOf lists a peer with its error, if any.
func peerOf(p *peer, err error) Peer {
	x := Peer{Address: p.shown}
	if err != nil {
		x.Error = err.Error()
	}
	return x
}

// mergeStatus adds the peers' workers and rows to doc. A worker already
// in the view (a peer that lists this process, two peers that are one) is
// taken once, from the first that reported it.
func (h *Handler) mergeStatus(doc *Status, answers []answer[Status]) {
	seen := make(map[string]bool, len(doc.Workers))
	for _, w := range doc.Workers {
		seen[w.Worker] = true
	}
	for i, a := range answers {
		doc.Peers = append(doc.Peers, peerOf(&h.peers[i], a.err))
		if a.err != nil {
			continue
		}
		mine := make(map[string]bool)
		for _, w := range a.doc.Workers {
			if seen[w.Worker] {
				continue
			}
			seen[w.Worker], mine[w.Worker] = true, true
			w.Source = h.peers[i].shown
			doc.Workers = append(doc.Workers, w)
		}
		for _, r := range a.doc.Rules {
			if mine[r.Worker] {
				doc.Rules = append(doc.Rules, r)
			}
		}
	}
}

// mergeHistory adds the peers' workers' histories to doc, as mergeStatus
// does their rows.
func (h *Handler) mergeHistory(doc *History, answers []answer[History]) {
	seen := make(map[string]bool, len(doc.Workers))
	for _, w := range doc.Workers {
		seen[w.Worker] = true
	}
	for i, a := range answers {
		doc.Peers = append(doc.Peers, peerOf(&h.peers[i], a.err))
		if a.err != nil || a.missing {
			continue
		}
		for _, w := range a.doc.Workers {
			if seen[w.Worker] {
				continue
			}
			seen[w.Worker] = true
			w.Source = h.peers[i].shown
			doc.Workers = append(doc.Workers, w)
		}
	}
}
