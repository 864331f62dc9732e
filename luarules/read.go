package luarules

import (
	"fmt"
	"io"
	"io/fs"
	"os"
)

// maxSourceSize bounds a Lua file: rule files are written by hand, and a
// path naming /dev/zero must not take the process's memory.
const maxSourceSize = 8 << 20

// readSource reads a rule file or module: a regular file (a link to one
// is followed) of at most maxSourceSize bytes. A directory, a FIFO (which
// would block Load until some writer came), a device or a socket is
// refused by name before anything is read; it is checked again on the
// opened file, in case the path changed in between, and a file growing
// past the limit while read is refused after maxSourceSize+1 bytes.
func readSource(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if err := regular(path, st.Mode()); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err = f.Stat(); err != nil {
		return nil, err
	}
	if err := regular(path, st.Mode()); err != nil {
		return nil, err
	}
	if st.Size() > maxSourceSize {
		return nil, tooLarge(path)
	}
	src, err := io.ReadAll(io.LimitReader(f, maxSourceSize+1))
	if err != nil {
		return nil, err
	}
	if len(src) > maxSourceSize {
		return nil, tooLarge(path)
	}
	return src, nil
}

func tooLarge(path string) error {
	return &fs.PathError{Op: "read", Path: path, Err: fmt.Errorf("is larger than %d MiB, the most a Lua rule file or module may be", maxSourceSize>>20)}
}

// regular refuses what is not a regular file, saying what it is.
func regular(path string, mode fs.FileMode) error {
	var what string
	switch {
	case mode.IsRegular():
		return nil
	case mode.IsDir():
		what = "a directory"
	case mode&fs.ModeNamedPipe != 0:
		what = "a FIFO"
	case mode&fs.ModeCharDevice != 0:
		what = "a character device"
	case mode&fs.ModeDevice != 0:
		what = "a device"
	case mode&fs.ModeSocket != 0:
		what = "a socket"
	default:
		what = "not a regular file"
	}
	return &fs.PathError{Op: "read", Path: path, Err: fmt.Errorf("is %s; a Lua rule file must be a regular file", what)}
}
