package cli

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

func versionCmd(_ []string, stdout, _ io.Writer) int {
	version, revision := "(devel)", ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		version = bi.Main.Version
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				revision = " " + s.Value
			}
		}
	}
	fmt.Fprintf(stdout, "ngxtasks %s%s %s %s/%s\n", version, revision, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return 0
}
