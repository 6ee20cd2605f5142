package rootfs

import (
	"path"
	"strings"
)

// kernelDirs hold kernels, modules and firmware: nothing in them is ever
// copied into a container.
var kernelDirs = []string{"/boot", "/lib/modules", "/usr/lib/modules", "/lib/firmware", "/usr/lib/firmware"}

// kernelNames are the name prefixes of kernel images and initial ramdisks,
// wherever they are.
var kernelNames = []string{"vmlinuz", "vmlinux", "initrd", "initramfs"}

// isKernelPath reports whether p (absolute and clean, inside a root) is a
// kernel file: under a kernel directory, or named like a kernel image or
// initrd.
func isKernelPath(p string) bool {
	for _, d := range kernelDirs {
		if under(p, d) {
			return true
		}
	}
	base := path.Base(p)
	for _, n := range kernelNames {
		if strings.HasPrefix(base, n) {
			return true
		}
	}
	return false
}

// runtimeDirs are mounted by the runtime in every container; files under
// them in the source root are never copied (the directories themselves are
// created empty).
var runtimeDirs = []string{"/proc", "/sys", "/dev"}

func isRuntimePath(p string) bool {
	for _, d := range runtimeDirs {
		if under(p, d) && p != d {
			return true
		}
	}
	return false
}

// under reports whether p is d or below it.
func under(p, d string) bool {
	return strings.HasPrefix(p, d) && (len(p) == len(d) || p[len(d)] == '/')
}
