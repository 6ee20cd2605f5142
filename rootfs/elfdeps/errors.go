package elfdeps

import (
	"errors"
	"fmt"
)

// Sentinel errors returned (wrapped in a *PathError) by Discover. Callers
// test them with errors.Is.
var (
	// ErrNotFound: an app, an explicit file, a package or a library an app
	// needs does not exist in the source root.
	ErrNotFound = errors.New("not found in the source root")
	// ErrOutsideRoot: a path, or a symlink on the way, climbs above the
	// source root with "..".
	ErrOutsideRoot = errors.New("leads outside the source root")
	// ErrBrokenSymlink: a symlink chain ends nowhere, or loops.
	ErrBrokenSymlink = errors.New("broken symlink")
	// ErrWrongArch: an ELF app for a machine this host cannot run.
	ErrWrongArch = errors.New("ELF for another architecture")
	// ErrUnreadable: a file exists but cannot be read as what it must be
	// (permission denied, a FIFO, socket, device or directory where a file
	// is needed, a truncated or corrupt ELF).
	ErrUnreadable = errors.New("unreadable")
	// ErrNotProgram: an app, interpreter or program is a file of the wrong
	// kind (neither ELF nor #! script, a directory, a FIFO). It is also
	// ErrUnreadable (errors.Is).
	ErrNotProgram error = &kindError{msg: "not a program", parent: ErrUnreadable}
	// ErrKernelFile: a kernel, initrd, module or firmware file was asked for.
	ErrKernelFile = errors.New("is a kernel file (never copied into a container)")
)

// PathError is the error Discover returns for a bad input: Err is one of the
// sentinels above, Path the offending path inside the source root (or the
// package name), What says what was being resolved ("app", "file",
// "library needed by /usr/bin/x", ...). It prints as
// "what: path: error (detail)".
type PathError struct {
	What   string
	Path   string
	Err    error
	Detail string // optional: the link that broke, the machine found, ...
}

func (e *PathError) Error() string {
	s := fmt.Sprintf("%s: %s: %v", e.What, e.Path, e.Err)
	if e.Detail != "" {
		s += " (" + e.Detail + ")"
	}
	return s
}

func (e *PathError) Unwrap() error { return e.Err }

// kindError is a sentinel that is a special case of another.
type kindError struct {
	msg    string
	parent error
}

func (e *kindError) Error() string        { return e.msg }
func (e *kindError) Is(target error) bool { return target == e.parent }
