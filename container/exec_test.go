package container

import (
	"errors"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// A process for exec that is wrong is an invalid process, named as such, and
// still an invalid config for callers that test ErrInvalidSpec.
func TestValidateProcess(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    *specs.Process
		want string // "" for a valid process, else part of the error
	}{
		{name: "valid", p: &specs.Process{Args: []string{"true"}, Cwd: "/"}},
		{name: "no process", p: nil, want: "process is missing"},
		{name: "no args", p: &specs.Process{Cwd: "/"}, want: "process.args is empty"},
		{name: "no cwd", p: &specs.Process{Args: []string{"true"}}, want: `process.cwd "" is not an absolute path`},
		{name: "unknown capability", p: &specs.Process{Args: []string{"true"}, Cwd: "/",
			Capabilities: &specs.LinuxCapabilities{Bounding: []string{"CAP_BOGUS"}}}, want: `unknown capability "CAP_BOGUS"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateProcess(tc.p)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("ValidateProcess: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("ValidateProcess: no error, want %q", tc.want)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "invalid process: ") || !strings.Contains(msg, tc.want) {
				t.Errorf("ValidateProcess: %q, want \"invalid process: ...%s...\"", msg, tc.want)
			}
			if strings.Contains(msg, "container config") {
				t.Errorf("ValidateProcess: %q speaks of the container's config", msg)
			}
			if !errors.Is(err, ErrInvalidProcess) || !errors.Is(err, ErrInvalidSpec) {
				t.Errorf("ValidateProcess: %v is not both ErrInvalidProcess and ErrInvalidSpec", err)
			}
		})
	}
}

func TestCheckCapability(t *testing.T) {
	for name, ok := range map[string]bool{"CAP_NET_ADMIN": true, "CAP_CHOWN": true, "BOGUS": false, "CAP_chown": false, "chown": false, "": false} {
		err := CheckCapability(name)
		if (err == nil) != ok {
			t.Errorf("CheckCapability(%q) = %v", name, err)
		}
		if err != nil && (!errors.Is(err, ErrInvalidProcess) || !strings.Contains(err.Error(), "unknown capability")) {
			t.Errorf("CheckCapability(%q) = %v: want an ErrInvalidProcess naming an unknown capability", name, err)
		}
	}
	if errors.Is(ErrInvalidSpec, ErrInvalidProcess) {
		t.Error("every invalid config is an invalid process")
	}
}
