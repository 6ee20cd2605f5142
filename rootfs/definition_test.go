package rootfs

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestSplitCommand(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		err  bool
	}{
		{in: "/usr/sbin/nginx -g 'daemon off;'", want: []string{"/usr/sbin/nginx", "-g", "daemon off;"}},
		{in: `a "b c" d\ e`, want: []string{"a", "b c", "d e"}},
		{in: `x "q\"uote" '\n'`, want: []string{"x", `q"uote`, `\n`}},
		{in: `  spaced   out  `, want: []string{"spaced", "out"}},
		{in: `empty "" ''`, want: []string{"empty", "", ""}},
		{in: `a'b'"c"`, want: []string{"abc"}},
		{in: `'unterminated`, err: true},
		{in: `"unterminated`, err: true},
		{in: `   `, err: true},
	} {
		got, err := SplitCommand(tc.in)
		if tc.err {
			if err == nil {
				t.Errorf("SplitCommand(%q) = %q, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("SplitCommand(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestParseDefinition(t *testing.T) {
	const good = `version: 1
# the web server
apps: [/usr/sbin/nginx]
packages:
  - nginx-common
files: [/var/www/html]
excludes: ["/usr/share/doc/**"]
trace: true
trace-timeout: 3s
source-root: old-root
user: www-data
keep-users: [daemon]
workdir: /var/www
hostname: web1
keep-setuid: false
stop-timeout: 20
env:
  LANG: C.UTF-8
start:
  - /bin/setup --once
  - [/usr/sbin/nginx, -g, "daemon off;"]
  - name: worker
    command: /usr/bin/worker -v
    env: [A=1]
    workdir: /srv
    wait: true
identity:
  hostname: x
resources: {}
slcse:
`
	d, err := ParseDefinition(strings.NewReader(good), "app.yaml", "/defs")
	if err != nil {
		t.Fatal(err)
	}
	want := &Definition{
		Version: 1, SourceRoot: "/defs/old-root", Apps: []string{"/usr/sbin/nginx"}, Packages: []string{"nginx-common"},
		Files: []string{"/var/www/html"}, Excludes: []string{"/usr/share/doc/**"}, Trace: true,
		TraceTimeout: Duration(3 * time.Second), StopTimeout: Duration(20 * time.Second),
		User: "www-data", KeepUsers: []string{"daemon"}, Workdir: "/var/www", Hostname: "web1", Env: []string{"LANG=C.UTF-8"},
		Start: []Command{
			{Args: []string{"/bin/setup", "--once"}},
			{Args: []string{"/usr/sbin/nginx", "-g", "daemon off;"}},
			{Name: "worker", Args: []string{"/usr/bin/worker", "-v"}, Env: []string{"A=1"}, Cwd: "/srv", Wait: true},
		},
		Identity: map[string]any{"hostname": "x"}, Resources: map[string]any{},
	}
	if !reflect.DeepEqual(d, want) {
		t.Errorf("ParseDefinition:\n got %+v\nwant %+v", d, want)
	}
}

func TestParseDefinitionErrors(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"unknown key", "apps: [/bin/x]\nbogus: 1\n", "app.yaml:2: unknown key \"bogus\""},
		{"unknown key deep", "apps: [/bin/x]\nstart:\n  - args: [/bin/x]\n    colour: red\n", "app.yaml:4: unknown key \"colour\" in a start command"},
		{"repeated key", "apps: [/a]\napps: [/b]\n", "app.yaml:2: key \"apps\" repeats (first on line 1)"},
		{"wrong type", "apps: [/bin/x]\ntrace: maybe\n", "app.yaml:2: cannot unmarshal"},
		{"apps not a list", "apps: /bin/x\n", "app.yaml:1: cannot unmarshal"},
		{"bad duration", "trace-timeout: soon\n", "app.yaml:1: \"soon\" is not a duration"},
		{"env not KEY=VALUE", "env:\n  - NOEQUALS\n", "app.yaml:2: env entry \"NOEQUALS\""},
		{"reserved not a mapping", "resources: 5\n", "app.yaml:1: resources must be a mapping"},
		{"not a mapping", "- a\n- b\n", "app.yaml:1: the file must be a mapping"},
		{"syntax", "apps: [\n", "app.yaml:1: did not find expected node content"},
		{"empty", "", "app.yaml is empty"},
		{"two documents", "apps: [/a]\n---\napps: [/b]\n", "more than one YAML document"},
		{"bad quote in start", "start:\n  - \"/bin/x 'oops\"\n", "app.yaml:2: start: unterminated single quote"},
		{"version", "version: 2\n", "app.yaml:1: version 2"},
		{"command and args", "start:\n  - command: /bin/x -a\n    args: [/bin/x, -b]\n", "app.yaml:3: a start command has both command and args"},
		{"bad name", "start:\n  - name: bad name/x\n    args: [/bin/x]\n", "app.yaml:2: start command name \"bad name/x\""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseDefinition(strings.NewReader(tc.in), "app.yaml", "")
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			if !errors.Is(err, ErrInvalidDefinition) {
				t.Errorf("error %q is not ErrInvalidDefinition", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

// FuzzParseDefinition: any input is parsed or refused with
// ErrInvalidDefinition, never a panic; start commands that parse are valid.
func FuzzParseDefinition(f *testing.F) {
	f.Add("apps: [/bin/x]\nstart:\n  - /bin/x -v\n")
	f.Add("start:\n  - name: a\n    args: [/a]\n    env: {K: V}\n    wait: true\n")
	f.Add("identity: {a: 1}\nresources:\nslcse: []\n")
	f.Add("env: [A=B]\ntrace-timeout: 1.5\n")
	f.Add("- a\n")
	f.Add("apps: [\n")
	f.Fuzz(func(t *testing.T, in string) {
		d, err := ParseDefinition(strings.NewReader(in), "f.yaml", "/d")
		if err != nil {
			if !errors.Is(err, ErrInvalidDefinition) {
				t.Fatalf("error %v is not ErrInvalidDefinition", err)
			}
			return
		}
		for _, c := range d.Start {
			if err := c.validate(); err != nil {
				t.Fatalf("accepted an invalid start command: %v", err)
			}
		}
	})
}

// FuzzSplitCommand: words never contain the quoting that produced them
// unescaped, and splitting never panics.
func FuzzSplitCommand(f *testing.F) {
	for _, s := range []string{`a 'b c' "d\"e" f\ g`, `''`, `"`, `\`, "a\tb\nc"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		words, err := SplitCommand(s)
		if err == nil && len(words) == 0 {
			t.Fatal("no words and no error")
		}
	})
}

// A definition file over the size bound is refused, not read in part.
func TestParseDefinitionTooLarge(t *testing.T) {
	big := "apps: [/bin/true]\n# " + strings.Repeat("x", maxDefinitionSize) + "\n"
	_, err := ParseDefinition(strings.NewReader(big), "big.yaml", "/")
	if !errors.Is(err, ErrInvalidDefinition) || !strings.Contains(err.Error(), "big.yaml is larger than 16 MiB") {
		t.Errorf("err = %v", err)
	}
}
