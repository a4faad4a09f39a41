package progress

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestBarAndSizes(t *testing.T) {
	for _, tc := range []struct {
		cur, total int64
		want       string
	}{
		{0, 1000, "[>" + strings.Repeat(" ", 49) + "]       0B/1kB"},
		{500, 1000, "[" + strings.Repeat("=", 25) + ">" + strings.Repeat(" ", 24) + "]     500B/1kB"},
		{1000, 1000, "[" + strings.Repeat("=", 50) + "]      1kB/1kB"},
		{1234567, 5300000, "[" + strings.Repeat("=", 11) + ">" + strings.Repeat(" ", 38) + "]  1.235MB/5.3MB"},
		{4096, 0, "4.096kB"},
	} {
		if got := Bar(tc.cur, tc.total); got != tc.want {
			t.Errorf("Bar(%d, %d) = %q, want %q", tc.cur, tc.total, got, tc.want)
		}
	}
}

func TestTerminalRewritesInPlace(t *testing.T) {
	var buf bytes.Buffer
	d := New(&buf, true, 0)
	clock := time.Unix(0, 0)
	d.now = func() time.Time { return clock }
	d.Line("v1: Pulling from x")
	d.Status("aaa", "Pulling fs layer")
	d.Status("bbb", "Pulling fs layer")
	d.Bytes("aaa", "Downloading", 10, 100)
	d.Bytes("aaa", "Downloading", 20, 100) // within 100ms: not drawn
	clock = clock.Add(time.Second)
	d.Bytes("aaa", "Downloading", 100, 100)
	d.Status("aaa", "Pull complete")
	out := buf.String()
	// aaa is two lines up from the bottom: every rewrite moves up 2 and back.
	if n := strings.Count(out, "\x1b[2A\r\x1b[2K"); n != 3 {
		t.Fatalf("%d in-place rewrites of aaa, want 3: %q", n, out)
	}
	if strings.Contains(out, " 20B/") {
		t.Fatalf("a redraw within 100ms: %q", out)
	}
	if !strings.HasSuffix(out, "\x1b[2A\r\x1b[2Kaaa: Pull complete\r\x1b[2B") {
		t.Fatalf("last write %q", out)
	}
}

func TestPlainIsOneLinePerStep(t *testing.T) {
	var buf bytes.Buffer
	d := New(&buf, false, 0)
	d.Status("aaa", "Pulling fs layer")
	d.Bytes("aaa", "Downloading", 10, 100)
	d.Status("aaa", "Pulling fs layer")
	d.Status("aaa", "Pull complete")
	if got, want := buf.String(), "aaa: Pulling fs layer\naaa: Pull complete\n"; got != want {
		t.Fatalf("%q, want %q", got, want)
	}
	var nilDisplay *Display
	nilDisplay.Status("x", "y") // quiet: no panic
}
