package rootfs

import (
	"errors"

	"github.com/vmctr/vmctr/rootfs/elfdeps"
)

// Errors that Build, ParseDefinition and ReadManifest return (wrapped, with
// the file they concern); test for them with errors.Is. The first six are
// elfdeps' own: discovery finds most bad input, and the copier checks the
// same things again when it copies.
var (
	// ErrKernelFile: a kernel, module, firmware or initrd file was asked for.
	// Containers never carry kernel files.
	ErrKernelFile = elfdeps.ErrKernelFile
	// ErrNotFound: an application or file does not exist in the source root.
	ErrNotFound = elfdeps.ErrNotFound
	// ErrOutsideRoot: a path or symbolic link leads out of the source root.
	ErrOutsideRoot = elfdeps.ErrOutsideRoot
	// ErrBrokenSymlink: a symbolic link on the way to a needed file points
	// to nothing.
	ErrBrokenSymlink = elfdeps.ErrBrokenSymlink
	// ErrUnreadable: a needed file cannot be read.
	ErrUnreadable = elfdeps.ErrUnreadable
	// ErrNotProgram: an app or interpreter is neither ELF nor a #! script
	// (a directory, a text file, a FIFO); also ErrUnreadable.
	ErrNotProgram = elfdeps.ErrNotProgram
	// ErrWrongArch: an app is an ELF file for another machine.
	ErrWrongArch = elfdeps.ErrWrongArch

	// ErrOutputExists: the output directory exists and is not empty (use
	// Force to replace it, if it is a bundle vmctr built).
	ErrOutputExists = errors.New("output directory exists and is not empty")
	// ErrNotBundle: Force would replace a directory that is not a bundle
	// vmctr built; it never does.
	ErrNotBundle = errors.New("output directory is not a bundle vmctr built")
	// ErrBundleInUse: Force would replace a bundle a process runs in.
	ErrBundleInUse = errors.New("bundle in use")
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
