package container

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseSignal(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want unix.Signal
		err  bool
	}{
		{in: "9", want: unix.SIGKILL},
		{in: "15", want: unix.SIGTERM},
		{in: "1", want: unix.SIGHUP},
		{in: "34", want: unix.Signal(34)}, // real-time signals by number
		{in: "64", want: unix.Signal(64)},
		{in: "KILL", want: unix.SIGKILL},
		{in: "SIGKILL", want: unix.SIGKILL},
		{in: "kill", want: unix.SIGKILL},
		{in: "sigterm", want: unix.SIGTERM},
		{in: "SigUsr1", want: unix.SIGUSR1},
		{in: "WINCH", want: unix.SIGWINCH},
		{in: "SIGSTOP", want: unix.SIGSTOP},
		{in: "CONT", want: unix.SIGCONT},

		{in: "", err: true},
		{in: "0", want: 0}, // kill(1)'s liveness check
		{in: "-1", err: true},
		{in: "65", err: true},
		{in: "99999999999999999999", err: true},
		{in: "SIG", err: true},
		{in: "NOPE", err: true},
		{in: "SIGSIGKILL", err: true},
		{in: "1.5", err: true},
		{in: " 9", err: true},
		{in: "KILL ", err: true},
	} {
		got, err := ParseSignal(tc.in)
		if (err != nil) != tc.err {
			t.Errorf("ParseSignal(%q) error = %v, want error %v", tc.in, err, tc.err)
			continue
		}
		if err == nil && got != tc.want {
			t.Errorf("ParseSignal(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
