package action

import (
	"bytes"
	"testing"
)

func TestTailBufferKeepsTheEnd(t *testing.T) {
	data := pattern(10000)
	for _, limit := range []int{0, 1, 7, 512, 1024, 9999, 10000, 20000} {
		for _, chunk := range []int{1, 3, 100, 1023, 1024, 4096, 10000} {
			tail := newTailBuffer(int64(limit))
			for p := data; len(p) > 0; {
				k := min(chunk, len(p))
				if n, err := tail.Write(p[:k]); n != k || err != nil {
					t.Fatalf("Write = %d, %v; want %d, nil", n, err, k)
				}
				p = p[k:]
			}
			keep := min(limit, len(data))
			want := data[len(data)-keep:]
			if got := tail.Bytes(); !bytes.Equal(got, want) {
				t.Errorf("limit %d, chunks of %d: kept %d bytes ending %q, want %d ending %q",
					limit, chunk, len(got), got[max(0, len(got)-20):], len(want), want[max(0, len(want)-20):])
			}
			if got, want := tail.Dropped(), int64(len(data)-keep); got != want {
				t.Errorf("limit %d, chunks of %d: Dropped = %d, want %d", limit, chunk, got, want)
			}
			if cap(tail.buf) > limit {
				t.Errorf("limit %d, chunks of %d: buffer grew to %d", limit, chunk, cap(tail.buf))
			}
		}
	}
}

func TestTailBufferSmallOutputStaysSmall(t *testing.T) {
	tail := newTailBuffer(64 << 20)
	tail.Write([]byte("hello\n"))
	if got := string(tail.Bytes()); got != "hello\n" {
		t.Errorf("Bytes = %q", got)
	}
	if cap(tail.buf) > 4096 {
		t.Errorf("6 bytes written to a 64 MiB tail allocated %d bytes", cap(tail.buf))
	}
}
