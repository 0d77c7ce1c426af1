package image

import (
	"errors"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
)

func FuzzParseLookup(f *testing.F) {
	for _, s := range []string{
		"busybox", "busybox:latest", "docker.io/library/busybox", "sha256:" + strings.Repeat("a", 64),
		strings.Repeat("b", 64), "abc123", "sha256:abc", "name@sha256:" + strings.Repeat("c", 64),
		"localhost:5000/x/y:z@sha256:" + strings.Repeat("d", 64), "UPPER", "", ":", "@", "a//b", "../x",
		"sha256:", "sha256:ZZ", strings.Repeat("a", 300), "a:" + strings.Repeat("t", 200), "\x00", "é",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ref string) {
		l, err := parseLookup(ref)
		if err != nil {
			if !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Fatalf("parseLookup(%q): unclassified error %v", ref, err)
			}
			return
		}
		if l.id == "" && l.key == "" && l.prefix == "" {
			t.Fatalf("parseLookup(%q) = %+v: nothing to look up", ref, l)
		}
		if l.id != "" && l.id.Validate() != nil {
			t.Fatalf("parseLookup(%q): invalid id %q", ref, l.id)
		}
		if l.prefix != "" {
			if _, ok := idPrefix(l.prefix); !ok {
				t.Fatalf("parseLookup(%q): bad prefix %q", ref, l.prefix)
			}
		}
		if l.display == "" {
			t.Fatalf("parseLookup(%q): no display form", ref)
		}
		if l.key != "" {
			// A key is a normalized reference: parsing it again is stable.
			l2, err := parseLookup(l.key)
			if err != nil || l2.key != l.key {
				t.Fatalf("parseLookup(%q) key %q does not round-trip: %+v %v", ref, l.key, l2, err)
			}
		}
	})
}

func FuzzApplyChanges(f *testing.F) {
	for _, s := range []string{
		`CMD ["a","b"]`, `CMD echo hi`, `ENTRYPOINT ["/x"]`, `ENV A=1 B="two words" C='x y'`, `ENV A 1`,
		`ENV A=${B:-def} C=$A`, `EXPOSE 80 90/udp 1000-1002/tcp`, `EXPOSE 99999`, `LABEL "a b"=c`,
		`ONBUILD RUN x`, `ONBUILD ONBUILD x`, `STOPSIGNAL 9`, `STOPSIGNAL SIGKILL`, `USER a b`,
		`VOLUME ["/a", ""]`, `VOLUME /a /b`, `WORKDIR rel`, `HEALTHCHECK NONE`,
		`HEALTHCHECK --interval=1s --timeout=2s --retries=3 CMD ["true"]`, `HEALTHCHECK --retries=-1 CMD x`,
		"RUN x", "FROM y", "ENV A=\"unterminated", "ENV A=${", "ENV A=${B:?x}", "cmd\\\n x", "# comment\nUSER 1",
		"\x00", "ENV =x", "LABEL", "WORKDIR", strings.Repeat("ENV A=$A$A\n", 50),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, change string) {
		var cfg dockerspec.DockerOCIImageConfig
		cfg.Env = []string{"PATH=/bin"}
		before := strings.Join(cfg.Env, ",")
		err := ApplyChanges(&cfg, []string{change})
		if err != nil {
			if !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Fatalf("ApplyChanges(%q): unclassified error %v", change, err)
			}
			if strings.Join(cfg.Env, ",") != before {
				t.Fatalf("ApplyChanges(%q) failed but changed the config", change)
			}
			return
		}
		for _, e := range cfg.Env {
			if !strings.Contains(e, "=") {
				t.Fatalf("ApplyChanges(%q): env entry %q without =", change, e)
			}
		}
		for p := range cfg.ExposedPorts {
			if !strings.Contains(p, "/") {
				t.Fatalf("ApplyChanges(%q): port %q without protocol", change, p)
			}
		}
		if cfg.WorkingDir != "" && !strings.HasPrefix(cfg.WorkingDir, "/") {
			t.Fatalf("ApplyChanges(%q): relative workdir %q", change, cfg.WorkingDir)
		}
	})
}
