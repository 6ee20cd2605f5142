package container

import (
	"errors"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestValidateID(t *testing.T) {
	for _, tc := range []struct {
		id string
		ok bool
	}{
		{"a", true},
		{"web-1", true},
		{"A_b+c.d-e", true},
		{"0123456789", true},
		{"a..b", true},
		{"a.", true},
		{"-leading-dash", true},
		{"d3b07384d113edec49eaa6238ad5ff00", true},
		{strings.Repeat("x", MaxIDLength), true},

		{"", false},
		{".", false},
		{"..", false},
		{"../x", false},
		{"x/..", false},
		{"a/b", false},
		{"/abs", false},
		{".hidden", false},
		{".locks", false},
		{strings.Repeat("x", MaxIDLength+1), false},
		{"a b", false},
		{"a\x00b", false},
		{"a\nb", false},
		{"a:b", false},
		{"a*", false},
		{"a\\b", false},
		{"ä", false},
		{"a@b", false},
	} {
		err := ValidateID(tc.id)
		if (err == nil) != tc.ok {
			t.Errorf("ValidateID(%q) = %v, want ok %v", tc.id, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidID) {
			t.Errorf("ValidateID(%q) error %v is not ErrInvalidID", tc.id, err)
		}
	}
}

// runcIDRule is runc's own check (validateID in libcontainer): vmctr accepts
// a subset of it, adding a length cap and refusing a leading dot.
var runcIDRule = regexp.MustCompile(`^[\w+\-.]+$`)

func FuzzValidateID(f *testing.F) {
	for _, s := range []string{
		"a", "web-1", "..", ".", "../x", "a/b", "", ".hidden", "a\x00b", "ä", "a b",
		strings.Repeat("x", MaxIDLength), strings.Repeat("x", MaxIDLength+1), "x/../../etc", "%2e%2e",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		err := ValidateID(id)
		want := runcIDRule.MatchString(id) && id != "." && id != ".." && len(id) <= MaxIDLength && !strings.HasPrefix(id, ".")
		if (err == nil) != want {
			t.Fatalf("ValidateID(%q) = %v, want ok %v", id, err, want)
		}
		if err != nil {
			if !errors.Is(err, ErrInvalidID) {
				t.Fatalf("ValidateID(%q): %v is not ErrInvalidID", id, err)
			}
			return
		}
		// A valid ID is one plain file name: safe to join under the root.
		if filepath.Base(id) != id || filepath.Clean(id) != id || strings.ContainsAny(id, "/\x00") || id == "." || id == ".." {
			t.Fatalf("ValidateID accepted %q, which is not a plain file name", id)
		}
		if j := filepath.Join("/run/vmctr", id); filepath.Dir(j) != "/run/vmctr" {
			t.Fatalf("ValidateID accepted %q, which escapes the root: %s", id, j)
		}
	})
}
