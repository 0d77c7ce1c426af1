package distribution

import (
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestParsePlatform(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want ocispec.Platform
		err  bool
	}{
		{in: "linux/amd64", want: ocispec.Platform{OS: "linux", Architecture: "amd64"}},
		{in: "linux/arm64/v8", want: ocispec.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}},
		{in: "Linux/x86_64", want: ocispec.Platform{OS: "linux", Architecture: "amd64"}},
		{in: "/amd64", err: true},
		{in: "a/b/c/d", err: true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParsePlatform(tc.in)
			if (err != nil) != tc.err || (!tc.err && (got.OS != tc.want.OS || got.Architecture != tc.want.Architecture || got.Variant != tc.want.Variant)) {
				t.Fatalf("ParsePlatform(%q) = %+v, %v", tc.in, got, err)
			}
		})
	}
}

func TestPickManifest(t *testing.T) {
	idx := manifestDoc{Manifests: []ocispec.Descriptor{
		{Digest: digest.Digest("sha256:" + hex('a')), Platform: &ocispec.Platform{OS: "linux", Architecture: "arm", Variant: "v6"}},
		{Digest: digest.Digest("sha256:" + hex('b')), Platform: &ocispec.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}},
		{Digest: digest.Digest("sha256:" + hex('c')), Platform: &ocispec.Platform{OS: "linux", Architecture: "arm64"}},
		{Digest: digest.Digest("sha256:" + hex('d')), Platform: &ocispec.Platform{OS: "linux", Architecture: "amd64"}},
	}}
	for _, tc := range []struct {
		want ocispec.Platform
		pick byte
	}{
		{ocispec.Platform{OS: "linux", Architecture: "amd64"}, 'd'},
		{ocispec.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}, 'b'},
		{ocispec.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}, 'c'},
		{ocispec.Platform{OS: "windows", Architecture: "amd64"}, 0},
	} {
		got, err := pickManifest(idx, tc.want)
		if tc.pick == 0 {
			if err == nil {
				t.Errorf("%+v: picked %s", tc.want, got.Digest)
			}
			continue
		}
		if err != nil || got.Digest.Encoded() != hex(tc.pick) {
			t.Errorf("%+v: got %s, %v", tc.want, got.Digest, err)
		}
	}
}

func hex(c byte) string {
	b := make([]byte, 64)
	for i := range b {
		b[i] = c
	}
	return string(b)
}

func TestRegistryHost(t *testing.T) {
	for in, want := range map[string]string{
		"":                            "docker.io",
		"https://index.docker.io/v1/": "docker.io",
		"registry-1.docker.io":        "docker.io",
		"localhost:5000":              "localhost:5000",
		"http://127.0.0.1:5000/v2/":   "127.0.0.1:5000",
		"Ghcr.IO":                     "ghcr.io",
	} {
		if got := RegistryHost(in); got != want {
			t.Errorf("RegistryHost(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestConfig_Insecure(t *testing.T) {
	c := DefaultConfig()
	c.InsecureRegistries = []string{"10.0.0.0/8", "myreg:5000", "other"}
	for host, want := range map[string]bool{
		"localhost:5000": true, "127.0.0.1:5000": true, "[::1]:5000": true, "127.5.5.5": true,
		"10.1.2.3:443": true, "myreg:5000": true, "myreg:6000": false, "other:1": true,
		"192.168.1.1:5000": false, "docker.io": false,
	} {
		if got := c.insecure(host); got != want {
			t.Errorf("insecure(%q) = %v, want %v", host, got, want)
		}
	}
	bad := DefaultConfig()
	bad.Mirrors = map[string][]string{"docker.io": {"ftp://x"}}
	if bad.Validate() == nil {
		t.Error("ftp mirror accepted")
	}
}

func FuzzParseManifest(f *testing.F) {
	for _, s := range []string{
		`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"digest":"sha256:` + hex('a') + `","size":2},"layers":[]}`,
		`{"schemaVersion":2,"manifests":[{"digest":"sha256:` + hex('b') + `","size":-1}]}`,
		`{"schemaVersion":1,"mediaType":"application/vnd.docker.distribution.manifest.v1+prettyjws"}`,
		`{"config":{"digest":"../../etc/passwd"}}`,
		`[]`, `null`, ``,
	} {
		f.Add([]byte(s), "")
	}
	f.Fuzz(func(t *testing.T, raw []byte, mt string) {
		doc, got, err := parseManifest(raw, mt)
		if err != nil {
			return
		}
		for _, d := range append(append([]ocispec.Descriptor{}, doc.Layers...), doc.Manifests...) {
			if d.Digest.Validate() != nil || d.Size < 0 {
				t.Fatalf("accepted bad descriptor %+v (%s)", d, got)
			}
		}
	})
}

func FuzzParsePlatform(f *testing.F) {
	for _, s := range []string{"linux/amd64", "", "/", "a/b/c/d", "linux//"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePlatform(s)
		if err == nil && p.OS == "" {
			t.Fatalf("empty OS from %q", s)
		}
	})
}
