package elfdeps

import (
	"context"
	"os"
	"testing"
)

// BenchmarkDiscover measures discovery on this host's nginx and python3, by
// path (ELF closure and runtime files) and by package (dependency closure).
func BenchmarkDiscover(b *testing.B) {
	for _, bc := range []struct {
		name, need string
		o          Options
	}{
		{"nginx-app", "/usr/sbin/nginx", Options{Apps: []string{"/usr/sbin/nginx"}}},
		{"nginx-package", "/usr/sbin/nginx", Options{Packages: []string{"nginx"}}},
		{"python3-app", "/usr/bin/python3", Options{Apps: []string{"/usr/bin/python3"}}},
		{"python3-package", "/usr/bin/python3", Options{Packages: []string{"python3"}}},
		{"redis-package", "/usr/bin/redis-server", Options{Packages: []string{"redis-server"}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			if _, err := os.Stat(bc.need); err != nil {
				b.Skipf("%s is not installed", bc.need)
			}
			bc.o.Root = "/"
			var n int
			for i := 0; i < b.N; i++ {
				r, err := Discover(context.Background(), bc.o)
				if err != nil {
					b.Fatal(err)
				}
				n = len(r.Files)
			}
			b.ReportMetric(float64(n), "files")
		})
	}
}
