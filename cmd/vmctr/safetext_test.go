package main

import (
	"bytes"
	"testing"
)

// Text output for a terminal never carries control characters.
func TestSafeText(t *testing.T) {
	for in, want := range map[string]string{
		"plain /usr/bin/x\n\tok":     "plain /usr/bin/x\n\tok",
		"esc\x1b]0;PWNED\x07\x1b[2J": `esc\x1b]0;PWNED\x07\x1b[2J`,
		"c1 \u009b31m":               `c1 \u009b31m`,
		"bad utf8 \xff":              `bad utf8 \xff`,
		"unicode é stays":            "unicode é stays",
	} {
		var b bytes.Buffer
		if n, err := (safeText{&b}).Write([]byte(in)); err != nil || n != len(in) || b.String() != want {
			t.Errorf("safeText(%q) = %q, %d, %v; want %q", in, b.String(), n, err, want)
		}
	}
}
