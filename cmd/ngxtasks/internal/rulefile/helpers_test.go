package rulefile

import (
	"errors"
	"io/fs"
	"testing"
)

// The secrets of the tests' environment: no message may ever hold one.
const (
	hookKey  = "s3cr3t-hook-key"
	apiToken = "t0ken-from-env-file"
	dingPass = "ding-pa55-from-ding-env"
)

// testEnv is a fixed process environment and set of env files.
func testEnv() Env {
	vars := map[string]string{"HOOK_KEY": hookKey, "HOME": "/home/u", "BAD_URL": "http://[::1", "NL": "a\nb"}
	files := map[string]string{
		"secrets.env": "# secrets\nAPI_TOKEN=" + apiToken + "\nexport REGION = eu-west \n",
		"ding.env":    "DING_PASS='" + dingPass + "'\nGREETING=from-file\n",
		"bad.env":     "OK=1\nnot a line\n1X=2\nQ=\"" + dingPass + "\nOK=again\n",
	}
	return Env{
		Lookup: func(k string) (string, bool) { v, ok := vars[k]; return v, ok },
		ReadFile: func(p string) ([]byte, error) {
			if v, ok := files[p]; ok {
				return []byte(v), nil
			}
			return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
		},
	}
}

// messages is the error as lines, or fails the test for another error.
func messages(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var list Errors
	if !errors.As(err, &list) {
		t.Fatalf("error is %T, not Errors: %v", err, err)
	}
	out := make([]string, len(list))
	for i, e := range list {
		out[i] = e.Error()
	}
	return out
}
