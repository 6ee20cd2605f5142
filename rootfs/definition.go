package rootfs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Definition is a definition file (`vmctr build -f app.yaml`): the build
// options in YAML. A key is the name of the matching `vmctr build` flag.
// identity, resources and slcse are reserved for the capabilities that
// fill them (container identity, resource limits, SLCSE libraries): they
// are accepted as mappings and carried, not yet used. Any other key is an
// error naming its line.
type Definition struct {
	Version      int            `yaml:"version"` // 1, or absent
	SourceRoot   string         `yaml:"source-root"`
	Apps         []string       `yaml:"apps"`
	Packages     []string       `yaml:"packages"`
	Files        []string       `yaml:"files"`
	Excludes     []string       `yaml:"excludes"`
	Trace        bool           `yaml:"trace"`
	TraceTimeout Duration       `yaml:"trace-timeout"`
	Start        []Command      `yaml:"-"` // "start", decoded by hand
	StopTimeout  Duration       `yaml:"stop-timeout"`
	User         string         `yaml:"user"`
	KeepUsers    []string       `yaml:"keep-users"`
	Env          []string       `yaml:"-"` // "env": a list of KEY=VALUE or a mapping
	Workdir      string         `yaml:"workdir"`
	Hostname     string         `yaml:"hostname"`
	KeepSetuid   bool           `yaml:"keep-setuid"`
	Userns       uint32         `yaml:"userns"` // BuildOpts.UsernsBase
	Identity     map[string]any `yaml:"identity"`
	Resources    map[string]any `yaml:"resources"`
	SLCSE        map[string]any `yaml:"slcse"`
}

// Duration is a time.Duration written as "5s", "1m30s" (or a number of
// seconds) in a definition file.
type Duration time.Duration

func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: want a duration like 5s", n.Line)
	}
	if v, err := time.ParseDuration(n.Value); err == nil {
		*d = Duration(v)
		return nil
	}
	var secs float64
	if err := n.Decode(&secs); err != nil {
		return fmt.Errorf("line %d: %q is not a duration (like 5s)", n.Line, n.Value)
	}
	*d = Duration(time.Duration(secs * float64(time.Second)))
	return nil
}

// definitionKeys are the top-level keys a definition file may have.
var definitionKeys = []string{
	"version", "source-root", "apps", "packages", "files", "excludes", "trace", "trace-timeout",
	"start", "stop-timeout", "user", "keep-users", "env", "workdir", "hostname", "keep-setuid", "userns",
	"identity", "resources", "slcse",
}

// commandKeys are the keys of a start command written as a mapping.
var commandKeys = []string{"name", "args", "command", "env", "workdir", "wait"}

// maxDefinitionSize bounds a definition file: no real one comes near it.
const maxDefinitionSize = 16 << 20

// ParseDefinition reads a definition file. name is used in errors ("app.yaml:7:
// unknown key ..."); a relative source-root is taken relative to dir (the
// file's directory).
func ParseDefinition(r io.Reader, name, dir string) (*Definition, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxDefinitionSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if len(data) > maxDefinitionSize {
		return nil, fmt.Errorf("%w: %s is larger than %d MiB", ErrInvalidDefinition, name, maxDefinitionSize>>20)
	}
	bad := func(line int, format string, args ...any) error {
		return fmt.Errorf("%w: %s:%d: %s", ErrInvalidDefinition, name, line, fmt.Sprintf(format, args...))
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: %s is empty", ErrInvalidDefinition, name)
		}
		return nil, fmt.Errorf("%w: %s", ErrInvalidDefinition, yamlMsg(name, strings.TrimPrefix(err.Error(), "yaml: ")))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, bad(extra.Line, "more than one YAML document")
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		return nil, bad(root.Line, "the file must be a mapping of keys (apps, start, ...)")
	}
	var def Definition
	plain := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: root.Line}
	seen := map[string]int{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if !slices.Contains(definitionKeys, k.Value) {
			return nil, bad(k.Line, "unknown key %q (known keys: %s)", k.Value, strings.Join(definitionKeys, ", "))
		}
		if l, ok := seen[k.Value]; ok {
			return nil, bad(k.Line, "key %q repeats (first on line %d)", k.Value, l)
		}
		seen[k.Value] = k.Line
		switch k.Value {
		case "start":
			cmds, err := decodeStart(v, bad)
			if err != nil {
				return nil, err
			}
			def.Start = cmds
		case "env":
			env, err := decodeEnv(v, bad)
			if err != nil {
				return nil, err
			}
			def.Env = env
		case "identity", "resources", "slcse":
			if v.Kind != yaml.MappingNode && v.Tag != "!!null" {
				return nil, bad(v.Line, "%s must be a mapping (its keys are defined by the %s capability)", k.Value, k.Value)
			}
			plain.Content = append(plain.Content, k, v)
		default:
			plain.Content = append(plain.Content, k, v)
		}
	}
	if err := plain.Decode(&def); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			var msgs []string
			for _, e := range te.Errors {
				msgs = append(msgs, yamlMsg(name, e))
			}
			return nil, fmt.Errorf("%w: %s", ErrInvalidDefinition, strings.Join(msgs, "; "))
		}
		return nil, fmt.Errorf("%w: %s", ErrInvalidDefinition, yamlMsg(name, err.Error()))
	}
	if def.Version != 0 && def.Version != 1 {
		return nil, bad(seen["version"], "version %d is not supported (want 1)", def.Version)
	}
	if def.SourceRoot != "" && !filepath.IsAbs(def.SourceRoot) && dir != "" {
		def.SourceRoot = filepath.Join(dir, def.SourceRoot)
	}
	return &def, nil
}

// ReadDefinition reads the definition file at p.
func ReadDefinition(p string) (*Definition, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("opening definition file: %w", err)
	}
	defer f.Close()
	return ParseDefinition(f, p, filepath.Dir(p))
}

// yamlMsg turns yaml.v3's "line 3: cannot unmarshal ..." into
// "app.yaml:3: cannot unmarshal ...".
func yamlMsg(name, msg string) string {
	var line int
	var rest string
	if n, _ := fmt.Sscanf(msg, "line %d:", &line); n == 1 {
		_, rest, _ = strings.Cut(msg, ":")
		return fmt.Sprintf("%s:%d:%s", name, line, rest)
	}
	return name + ": " + msg
}

type badFunc func(line int, format string, args ...any) error

func decodeStrings(n *yaml.Node, what string, bad badFunc) ([]string, error) {
	if n.Kind != yaml.SequenceNode {
		return nil, bad(n.Line, "%s must be a list", what)
	}
	var out []string
	for _, c := range n.Content {
		if c.Kind != yaml.ScalarNode {
			return nil, bad(c.Line, "%s: each entry must be a string", what)
		}
		out = append(out, c.Value)
	}
	return out, nil
}

// decodeEnv takes a list of KEY=VALUE or a mapping KEY: VALUE.
func decodeEnv(n *yaml.Node, bad badFunc) ([]string, error) {
	switch n.Kind {
	case yaml.MappingNode:
		var out []string
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if v.Kind != yaml.ScalarNode {
				return nil, bad(v.Line, "env %s: the value must be a string", k.Value)
			}
			if k.Value == "" || strings.Contains(k.Value, "=") {
				return nil, bad(k.Line, "env: bad variable name %q", k.Value)
			}
			out = append(out, k.Value+"="+v.Value)
		}
		return out, nil
	case yaml.SequenceNode:
		out, err := decodeStrings(n, "env", bad)
		if err != nil {
			return nil, err
		}
		for i, e := range out {
			if k, _, ok := strings.Cut(e, "="); !ok || k == "" {
				return nil, bad(n.Content[i].Line, "env entry %q is not KEY=VALUE", e)
			}
		}
		return out, nil
	}
	return nil, bad(n.Line, "env must be a list of KEY=VALUE or a mapping")
}

// decodeStart takes a list of start commands, each a command line
// ("nginx -g 'daemon off;'"), a list of arguments, or a mapping with args
// (or command), name, env, workdir and wait.
func decodeStart(n *yaml.Node, bad badFunc) ([]Command, error) {
	if n.Kind != yaml.SequenceNode {
		return nil, bad(n.Line, "start must be a list of commands")
	}
	var out []Command
	for _, e := range n.Content {
		var c Command
		switch e.Kind {
		case yaml.ScalarNode:
			args, err := SplitCommand(e.Value)
			if err != nil {
				return nil, bad(e.Line, "start: %v", err)
			}
			c.Args = args
		case yaml.SequenceNode:
			args, err := decodeStrings(e, "start command", bad)
			if err != nil {
				return nil, err
			}
			c.Args = args
		case yaml.MappingNode:
			seen := map[string]bool{}
			for i := 0; i+1 < len(e.Content); i += 2 {
				k, v := e.Content[i], e.Content[i+1]
				if (k.Value == "args" && seen["command"]) || (k.Value == "command" && seen["args"]) {
					return nil, bad(k.Line, "a start command has both command and args: give one")
				}
				seen[k.Value] = true
				var err error
				switch k.Value {
				case "name":
					err = v.Decode(&c.Name)
				case "args":
					c.Args, err = decodeStrings(v, "args", bad)
				case "command":
					if v.Kind != yaml.ScalarNode {
						return nil, bad(v.Line, "command must be a command line (use args for a list)")
					}
					c.Args, err = SplitCommand(v.Value)
					if err != nil {
						err = bad(v.Line, "command: %v", err)
					}
				case "env":
					c.Env, err = decodeEnv(v, bad)
				case "workdir":
					err = v.Decode(&c.Cwd)
				case "wait":
					err = v.Decode(&c.Wait)
				default:
					return nil, bad(k.Line, "unknown key %q in a start command (known keys: %s)", k.Value, strings.Join(commandKeys, ", "))
				}
				if err != nil {
					var te *yaml.TypeError
					if errors.As(err, &te) {
						return nil, bad(v.Line, "%s: %s", k.Value, strings.Join(te.Errors, "; "))
					}
					return nil, err
				}
			}
		default:
			return nil, bad(e.Line, "a start command must be a command line, a list or a mapping")
		}
		if len(c.Args) == 0 {
			return nil, bad(e.Line, "start command without a program")
		}
		if err := c.validate(); err != nil {
			return nil, bad(e.Line, "%v", err)
		}
		out = append(out, c)
	}
	return out, nil
}
