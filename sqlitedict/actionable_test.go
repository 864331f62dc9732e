package sqlitedict_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ngxtasks/ngxtasks"
	"github.com/ngxtasks/ngxtasks/sqlitedict"
)

// TestMissingDirectorySaysSo: a file in a directory that does not exist is
// refused naming the directory and the fix, not "unable to open database
// file (14)".
func TestMissingDirectorySaysSo(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no", "such")
	_, err := ngxtasks.OpenDict(context.Background(), "sqlite://"+filepath.Join(missing, "claims.db"))
	if !errors.Is(err, sqlitedict.ErrBadConfig) || !strings.Contains(err.Error(), missing+" does not exist") || !strings.Contains(err.Error(), "mkdir -p") {
		t.Fatalf("error %v", err)
	}
}
