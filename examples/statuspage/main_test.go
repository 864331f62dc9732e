package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestServesStatusAndMetrics builds the example, runs it as a user would,
// and reads its status JSON and metrics until every worker has run the
// heartbeat; then SIGINT stops it.
func TestServesStatusAndMetrics(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "statuspage")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "-listen", "127.0.0.1:0", "-for", "60s", "-act")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill() // by its pid; a no-op once it exited
		<-exited
	})

	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the banner: %v", err)
	}
	base, _, ok := strings.Cut(strings.TrimPrefix(line, "status page: "), " ")
	if !ok || !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Fatalf("banner %q does not name the status page", line)
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()

	var doc struct {
		Schema  string `json:"schema"`
		Workers []struct {
			Worker string `json:"worker"`
		} `json:"workers"`
		Rules []struct {
			Identifier string `json:"identifier"`
			Worker     string `json:"worker"`
			Runs       int64  `json:"runs"`
		} `json:"rules"`
	}
	deadline := time.Now().Add(15 * time.Second)
	for ran := 0; ran < 3; {
		if time.Now().After(deadline) {
			t.Fatalf("the heartbeat did not run in 3 workers within 15 s: %+v", doc)
		}
		time.Sleep(200 * time.Millisecond)
		if err := json.Unmarshal(get(t, base+"status.json"), &doc); err != nil {
			t.Fatal(err)
		}
		ran = 0
		for _, r := range doc.Rules {
			if r.Identifier == "heartbeat" && r.Runs > 0 {
				ran++
			}
		}
	}
	if doc.Schema != "ngxtasks.status/v1" || len(doc.Workers) != 3 || len(doc.Rules) != 4*3 {
		t.Fatalf("status: schema %q, %d workers, %d rules; want v1, 3 workers, 12 rules", doc.Schema, len(doc.Workers), len(doc.Rules))
	}
	if page := string(get(t, base)); !strings.Contains(page, "<html") || !strings.Contains(page, `<meta name="ngxtasks-csrf"`) {
		t.Fatalf("the dashboard is not a page with actions (-act): %.200s", page)
	}
	req, _ := http.NewRequest(http.MethodGet, base, nil)
	req.Host = "rebound.example"
	if resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("the page for another host name, with -act: %v %v; want 403", resp, err)
	} else {
		resp.Body.Close()
	}
	metricsURL := strings.TrimSuffix(base, "/debug/ngxtasks/") + "/metrics"
	text := string(get(t, metricsURL))
	for _, want := range []string{
		`ngxtasks_runs_total{result="success",rule="heartbeat",worker="worker-1"}`,
		`ngxtasks_rule_info{`,
		`ngxtasks_worker_runs_total{result="success",type="normal",worker="worker-1"}`,
		`ngxtasks_run_lateness_seconds_bucket{`,
		`go_goroutines `,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %s", want)
		}
	}

	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		exited <- err // for the cleanup
		if err != nil {
			t.Fatalf("after SIGINT: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("still running 10 s after SIGINT")
	}
}

func get(t *testing.T, url string) []byte {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %v\n%.300s", url, resp.Status, err, body)
	}
	return body
}
