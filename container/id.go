package container

import "fmt"

// MaxIDLength caps container IDs: the ID names a directory under the root and
// a cgroup, so it must fit in one file name.
const MaxIDLength = 255

// ValidateID checks a container ID: non-empty, at most MaxIDLength bytes, made
// only of ASCII letters, digits and
// "_+-.", and not starting with "." (so never "." or "..", nor vmctr's own
// hidden files under the root). This is runc's rule plus a length cap.
func ValidateID(id string) error {
	if id == "" {
		return fmt.Errorf("%w: container id cannot be empty", ErrInvalidID)
	}
	if len(id) > MaxIDLength {
		return fmt.Errorf("%w: %d bytes is longer than the %d allowed", ErrInvalidID, len(id), MaxIDLength)
	}
	if id[0] == '.' {
		return fmt.Errorf("%w: %q starts with a dot", ErrInvalidID, id)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '_', c == '+', c == '-', c == '.':
		default:
			what := fmt.Sprintf("character %q", c)
			if c >= 0x80 {
				what = fmt.Sprintf("non-ASCII byte %#x", c)
			}
			return fmt.Errorf("%w: %q has %s (allowed: ASCII letters, digits, _ + - .)", ErrInvalidID, id, what)
		}
	}
	return nil
}
