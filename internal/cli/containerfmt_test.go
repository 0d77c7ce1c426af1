package cli

import (
	"net/netip"
	"testing"

	"github.com/moby/moby/api/types/container"
)

func TestDisplayablePorts(t *testing.T) {
	v4 := netip.MustParseAddr("0.0.0.0")
	v6 := netip.MustParseAddr("::")
	tests := []struct {
		name  string
		ports []container.PortSummary
		want  string
	}{
		{"none", nil, ""},
		{"exposed only", []container.PortSummary{{PrivatePort: 80, Type: "tcp"}}, "80/tcp"},
		{"published same port", []container.PortSummary{{IP: v4, PrivatePort: 80, PublicPort: 80, Type: "tcp"}}, "0.0.0.0:80->80/tcp"},
		{"published other port", []container.PortSummary{{IP: v4, PrivatePort: 80, PublicPort: 8080, Type: "tcp"}}, "0.0.0.0:8080->80/tcp"},
		{"ipv6", []container.PortSummary{{IP: v6, PrivatePort: 80, PublicPort: 8080, Type: "tcp"}}, "[::]:8080->80/tcp"},
		{"range grouped", []container.PortSummary{
			{PrivatePort: 8002, Type: "tcp"}, {PrivatePort: 8000, Type: "tcp"}, {PrivatePort: 8001, Type: "tcp"},
		}, "8000-8002/tcp"},
		{"gap splits", []container.PortSummary{
			{PrivatePort: 80, Type: "tcp"}, {PrivatePort: 82, Type: "tcp"},
		}, "80/tcp, 82/tcp"},
		{"published range", []container.PortSummary{
			{IP: v4, PrivatePort: 9000, PublicPort: 9000, Type: "udp"}, {IP: v4, PrivatePort: 9001, PublicPort: 9001, Type: "udp"},
		}, "0.0.0.0:9000-9001->9000-9001/udp"},
		{"ipv6 same port", []container.PortSummary{{IP: v6, PrivatePort: 80, PublicPort: 80, Type: "tcp"}}, ":::80->80/tcp"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := displayablePorts(tc.ports); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestContainerContext_Fields(t *testing.T) {
	c := container.Summary{
		ID:      "0123456789abcdef0123456789abcdef",
		Names:   []string{"/web", "/other/link"},
		Image:   "docker.io/library/nginx:1.25",
		ImageID: "sha256:ffff",
		Command: "nginx -g 'daemon off;' --with-a-long-tail",
		SizeRw:  1234, SizeRootFs: 4_260_000,
		Mounts: []container.MountPoint{{Name: "averyveryverylongvolumename", Driver: "local"}, {Source: "/srv"}},
	}
	x := containerContext{c: c, trunc: true}
	checks := map[string][2]string{
		"ID":           {x.ID(), "0123456789ab"},
		"Names":        {x.Names(), "web"},
		"Image":        {x.Image(), "nginx:1.25"},
		"Command":      {x.Command(), `"nginx -g 'daemon of…"`},
		"Size":         {x.Size(), "1.23kB (virtual 4.26MB)"},
		"Mounts":       {x.Mounts(), "averyveryveryl…,/srv"},
		"LocalVolumes": {x.LocalVolumes(), "1"},
	}
	for name, v := range checks {
		if v[0] != v[1] {
			t.Errorf("%s = %q, want %q", name, v[0], v[1])
		}
	}
	full := containerContext{c: c}
	if full.ID() != c.ID || full.Names() != "web,other/link" || full.Image() != c.Image {
		t.Errorf("no-trunc fields changed: %q %q %q", full.ID(), full.Names(), full.Image())
	}
	if got := (containerContext{c: container.Summary{Image: "sha256:abcdef0123456789", ImageID: "sha256:abcdef0123456789"}, trunc: true}).Image(); got != "abcdef012345" {
		t.Errorf("image by ID = %q", got)
	}
	if got := (containerContext{}).Image(); got != "<no image>" {
		t.Errorf("empty image = %q", got)
	}
}

func TestLabelHeader(t *testing.T) {
	for in, want := range map[string]string{"com.example.my-role": "MY ROLE", "a_b": "A B", "x": "X"} {
		if got := labelHeader(in); got != want {
			t.Errorf("labelHeader(%q) = %q, want %q", in, got, want)
		}
	}
}
