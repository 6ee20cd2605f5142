package container

import (
	"errors"

	"github.com/opencontainers/runc/libcontainer"
)

// Sentinel errors. Callers test them with errors.Is; cmd/vmctr never imports
// libcontainer, so the ones it returns are re-exported here.
var (
	// ErrNotExist: no container with that ID under the root.
	ErrNotExist = libcontainer.ErrNotExist
	// ErrExist: a container with that ID already exists.
	ErrExist = libcontainer.ErrExist
	// ErrInvalidID: the ID is empty, too long or has characters outside [A-Za-z0-9_+.-].
	ErrInvalidID = errors.New("invalid container id")
	// ErrNotRunning: the operation needs a running (or created) container.
	ErrNotRunning = libcontainer.ErrNotRunning
	// ErrNotPaused: resume of a container that is not paused.
	ErrNotPaused = libcontainer.ErrNotPaused
	// ErrRunning: the operation needs a stopped container.
	ErrRunning = libcontainer.ErrRunning
	// ErrPaused: the operation is not possible on a paused container.
	ErrPaused = libcontainer.ErrPaused
	// ErrInvalidSpec: config.json is malformed or asks for something impossible.
	ErrInvalidSpec = errors.New("invalid container config")
	// ErrInvalidProcess: the process given to Exec is malformed (no args, a
	// relative cwd, an unknown capability, ...). It is also ErrInvalidSpec:
	// errors.Is(err, ErrInvalidSpec) holds for it, as it did before it had
	// a name of its own.
	ErrInvalidProcess error = &subError{msg: "invalid process", parent: ErrInvalidSpec}
)

// subError is a sentinel that is also a kind of a broader one.
type subError struct {
	msg    string
	parent error
}

func (e *subError) Error() string { return e.msg }
func (e *subError) Unwrap() error { return e.parent }
