package master

import (
	"fmt"
	"os"
	"strings"
)

// Token reads the listener's bearer token from the variable env (the rule
// file's token_env): "" when the variable is unset. Surrounding
// whitespace is dropped, for a token read from a secret file usually ends
// in a newline, which no client could send in a header. What is left must
// be printable ASCII without spaces, as a header value and a browser's
// fetch can carry it; an error names the variable, never the value.
func Token(env string) (string, error) {
	raw, ok := os.LookupEnv(env)
	if !ok {
		return "", nil
	}
	token := strings.TrimSpace(raw)
	if token == "" {
		return "", fmt.Errorf("$%s (token_env) is set but empty: give it the listener's token, or unset it for none", env)
	}
	for i := 0; i < len(token); i++ {
		if c := token[i]; c <= ' ' || c >= 0x7f {
			return "", fmt.Errorf("$%s (token_env): the token holds a space, a control or a non-ASCII character; a bearer token is printable ASCII without spaces", env)
		}
	}
	return token, nil
}
