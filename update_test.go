package main

import "testing"

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{
		"1024": 1024, "-1": -1, "100m": 100 << 20, "1g": 1 << 30, "1GiB": 1 << 30, "512k": 512 << 10,
		"1.5m": 3 << 19, "10MB": 10 << 20, "7b": 7,
	} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "lots", "-5", "1x", "m", "99999999999p"} {
		if v, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) = %d, want an error", in, v)
		}
	}
}
