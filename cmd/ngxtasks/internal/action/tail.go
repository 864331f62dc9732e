package action

import (
	"errors"
	"io"
	"sync"
)

// tailBuffer is an io.Writer that keeps the last limit bytes written to it
// and counts the rest. Memory grows with what is kept, up to limit, and no
// further however much is written: once full, the buffer is a ring whose
// oldest bytes are overwritten. It is not safe for concurrent use; Exec
// and HTTP each give it one writer.
type tailBuffer struct {
	limit   int
	buf     []byte // len(buf) ≤ limit; a ring starting at start once full
	start   int
	dropped int64
}

func newTailBuffer(limit int64) *tailBuffer {
	return &tailBuffer{limit: int(max(limit, 0))}
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	n := len(p)
	if len(p) >= t.limit {
		// p alone fills the buffer: keep its end, forget the rest.
		t.dropped += int64(len(t.buf)) + int64(len(p)-t.limit)
		t.grow(t.limit)
		t.buf = append(t.buf[:0], p[len(p)-t.limit:]...)
		t.start = 0
		return n, nil
	}
	if free := t.limit - len(t.buf); free > 0 {
		k := min(free, len(p))
		t.grow(len(t.buf) + k)
		t.buf = append(t.buf, p[:k]...)
		p = p[k:]
	}
	// What is left overwrites the oldest bytes, which are dropped.
	for len(p) > 0 {
		k := copy(t.buf[t.start:], p)
		t.dropped += int64(k)
		t.start = (t.start + k) % len(t.buf)
		p = p[k:]
	}
	return n, nil
}

// grow makes room for size bytes, doubling as append would but never past
// limit, so that a full buffer holds exactly limit bytes.
func (t *tailBuffer) grow(size int) {
	if size <= cap(t.buf) {
		return
	}
	c := min(max(size, 2*cap(t.buf), 512), t.limit)
	grown := make([]byte, len(t.buf), c)
	copy(grown, t.buf)
	t.buf = grown
}

// Bytes returns the kept bytes, oldest first, in a new slice.
func (t *tailBuffer) Bytes() []byte {
	if len(t.buf) == 0 {
		return nil
	}
	out := make([]byte, 0, len(t.buf))
	out = append(out, t.buf[t.start:]...)
	return append(out, t.buf[:t.start]...)
}

// Dropped is the number of bytes written and not kept.
func (t *tailBuffer) Dropped() int64 { return t.dropped }

// copyBuffers are io.Copy's buffers, shared by runs so that a run that
// prints one line does not allocate 32 KiB to read it.
var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// readTail reads r to its end into t. An error from r is returned;
// the tail keeps what was read before it.
func readTail(t *tailBuffer, r io.Reader) error {
	b := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(b)
	// Hiding r's WriteTo makes CopyBuffer use the shared buffer: an
	// *os.File's WriteTo would allocate its own.
	_, err := io.CopyBuffer(t, struct{ io.Reader }{r}, *b)
	if errors.Is(err, io.EOF) {
		err = nil
	}
	return err
}
