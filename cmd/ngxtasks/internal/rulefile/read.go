package rulefile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// maxFileSize bounds what is read of a rule file or an env file: both are
// edited by hand, and a path that names /dev/zero must not take the
// process's memory.
const maxFileSize = 8 << 20

// readFile is the one way this package reads a file, the rule file and
// env files alike. It opens without blocking (a FIFO would wait for a
// writer forever), judges what it opened — following a symbolic link to
// its target — and takes only a regular file, of at most maxFileSize
// bytes: a device, a FIFO or a directory is refused by name, before a
// byte is read, and a file that grew past the limit is refused after
// maxFileSize+1 bytes, whatever its size said.
func readFile(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		// A socket cannot be opened (ENXIO); name it rather than the errno.
		if st, serr := os.Stat(path); serr == nil && !st.Mode().IsRegular() {
			return nil, notRegular(path, st.Mode())
		}
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, notRegular(path, st.Mode())
	}
	if st.Size() > maxFileSize {
		return nil, tooLarge(path)
	}
	// One buffer of the size the file has (and a little room to see it
	// end), grown by append only if the file grows while it is read.
	data := make([]byte, 0, st.Size()+512)
	r := io.LimitReader(f, maxFileSize+1)
	for {
		if len(data) == cap(data) {
			data = append(data, 0)[:len(data)]
		}
		n, err := r.Read(data[len(data):cap(data)])
		data = data[:len(data)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if len(data) > maxFileSize {
		return nil, tooLarge(path)
	}
	return data, nil
}

func tooLarge(path string) error {
	return &fs.PathError{Op: "read", Path: path, Err: fmt.Errorf("is larger than %d MiB, the most a rule or env file may have", maxFileSize>>20)}
}

// notRegular says what path is instead of a regular file, and where it
// links to if it is a link.
func notRegular(path string, mode fs.FileMode) error {
	what := "not a regular file"
	switch {
	case mode.IsDir():
		what = "a directory"
	case mode&fs.ModeNamedPipe != 0:
		what = "a FIFO (named pipe)"
	case mode&fs.ModeCharDevice != 0:
		what = "a character device"
	case mode&fs.ModeDevice != 0:
		what = "a block device"
	case mode&fs.ModeSocket != 0:
		what = "a socket"
	}
	if target, err := os.Readlink(path); err == nil {
		what += " (the link's target, " + target + ")"
	}
	return &fs.PathError{Op: "read", Path: path, Err: errors.New("is " + what + ", not a regular file")}
}
