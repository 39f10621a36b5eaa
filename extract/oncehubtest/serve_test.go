package oncehubtest

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestServe_ListensUntilCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, "127.0.0.1:0", Options{Seed: 1, Conversations: 10, Start: testStart}, pw)
		pw.Close()
	}()
	lines := bufio.NewScanner(pr)
	if !lines.Scan() {
		t.Fatal("no start line")
	}
	root := regexp.MustCompile(`http://\S+/v2`).FindString(lines.Text())
	if root == "" {
		t.Fatalf("start line %q names no API root", lines.Text())
	}
	go func() { // keep the log flowing
		for lines.Scan() {
			if !strings.Contains(lines.Text(), "/v2/test 200") {
				t.Errorf("log line %q", lines.Text())
			}
		}
	}()
	r := call(t, root, "/test")
	if r.status != http.StatusOK {
		t.Errorf("GET /v2/test: %d", r.status)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
}
