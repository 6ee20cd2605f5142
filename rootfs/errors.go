package rootfs

import "errors"

// Errors that Build, ParseDefinition and ReadManifest return (wrapped, with
// the file they concern); test for them with errors.Is.
var (
	// ErrKernelFile: a kernel, module, firmware or initrd file was asked for.
	// Containers never carry kernel files.
	ErrKernelFile = errors.New("kernel files are never copied into a container")
	// ErrNotFound: an application or file does not exist in the source root.
	ErrNotFound = errors.New("not found in the source root")
	// ErrOutsideRoot: a path or symbolic link leads out of the source root.
	ErrOutsideRoot = errors.New("outside the source root")
	// ErrBrokenSymlink: a symbolic link on the way to a needed file points
	// to nothing.
	ErrBrokenSymlink = errors.New("broken symbolic link")
	// ErrUnreadable: a needed file cannot be read.
	ErrUnreadable = errors.New("cannot read file")
	// ErrOutputExists: the output directory exists and is not empty (use
	// Force to replace it).
	ErrOutputExists = errors.New("output directory exists and is not empty")
	// ErrInvalidDefinition: a definition file is malformed or has unknown keys.
	ErrInvalidDefinition = errors.New("invalid definition file")
	// ErrInvalidOptions: the build options contradict each other or miss
	// something required.
	ErrInvalidOptions = errors.New("invalid build options")
	// ErrBadInit: the execution program is missing or not a static
	// executable for this machine.
	ErrBadInit = errors.New("unusable init program")
	// ErrNoManifest: a bundle or container has no vmctr manifest (it was
	// not made by vmctr build).
	ErrNoManifest = errors.New("no vmctr manifest")
)
