package rootfs

import (
	"errors"
	"fmt"
	"path"
	"strings"
	"time"
	"unicode"
)

// Paths of vmctr's own files inside a built container. They live in one
// directory, /.vmctr, that no package uses.
const (
	VmctrDir     = "/.vmctr"
	InitPath     = VmctrDir + "/init"          // the execution program (PID 1)
	RunFilePath  = VmctrDir + "/run.json"      // the execution file
	ManifestPath = VmctrDir + "/manifest.json" // the manifest
)

// RunFileVersion is the version of the execution file format.
const RunFileVersion = 1

// DefaultStopTimeout is how long the init waits, after the stop signal,
// before it kills applications that still run.
const DefaultStopTimeout = 10 * time.Second

// Command is one application start: an entry of the execution file.
type Command struct {
	Name string   `json:"name,omitempty"` // for messages; default: base name of Args[0]
	Args []string `json:"args"`           // Args[0] is absolute or found through PATH inside the container
	Env  []string `json:"env,omitempty"`  // added to (or replacing) the container's environment
	Cwd  string   `json:"cwd,omitempty"`  // default: the container's working directory
	Wait bool     `json:"wait,omitempty"` // must exit 0 before the next command starts
}

// RunFile is the execution file, /.vmctr/run.json in the container: the
// init program (/.vmctr/init, rootfs/init/vmctr-init.c) reads it at start.
// Written once by Build; never changed afterwards.
type RunFile struct {
	Version     int       `json:"version"`
	StopTimeout int       `json:"stopTimeout"` // seconds
	Apps        []Command `json:"apps"`
}

func (c Command) validate() error {
	if len(c.Args) == 0 || c.Args[0] == "" {
		return errors.New("start command has no program")
	}
	if len(c.Name) > 64 || strings.ContainsFunc(c.Name, func(r rune) bool {
		return r <= ' ' || r == '/' || r == 0x7f || !unicode.IsPrint(r)
	}) {
		return fmt.Errorf("start command name %q: at most 64 printable characters, no spaces or '/'", c.Name)
	}
	for _, e := range c.Env {
		if k, _, ok := strings.Cut(e, "="); !ok || k == "" {
			return fmt.Errorf("start command %s: environment entry %q is not KEY=VALUE", c.Args[0], e)
		}
	}
	if c.Cwd != "" && !path.IsAbs(c.Cwd) {
		return fmt.Errorf("start command %s: working directory %q is not absolute", c.Args[0], c.Cwd)
	}
	for _, a := range c.Args {
		if strings.IndexByte(a, 0) >= 0 {
			return fmt.Errorf("start command %s: argument contains a NUL byte", c.Args[0])
		}
	}
	return nil
}

// SplitCommand splits a command line into words the way a POSIX shell
// would without expansions: blanks separate words, 'single quotes' keep
// everything, "double quotes" keep everything but \" \\ \$ \`, and a
// backslash outside quotes keeps the next character.
func SplitCommand(s string) ([]string, error) {
	var (
		words []string
		cur   strings.Builder
		inW   bool
	)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			if inW {
				words = append(words, cur.String())
				cur.Reset()
				inW = false
			}
		case c == '\\':
			inW = true
			if i+1 < len(s) {
				i++
				if s[i] != '\n' {
					cur.WriteByte(s[i])
				}
			}
		case c == '\'':
			inW = true
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("unterminated single quote in %q", s)
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
		case c == '"':
			inW = true
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`", s[i+1]) >= 0 {
					i++
				}
				cur.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, fmt.Errorf("unterminated double quote in %q", s)
			}
		default:
			inW = true
			cur.WriteByte(c)
		}
	}
	if inW {
		words = append(words, cur.String())
	}
	if len(words) == 0 {
		return nil, errors.New("empty command")
	}
	return words, nil
}
