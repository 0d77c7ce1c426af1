package volume

import (
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"
)

func TestParseMountOptions_Table(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want mountOptions
		bad  bool
	}{
		{name: "empty", in: "", want: mountOptions{}},
		{name: "tmpfs data", in: "size=100m,uid=1000", want: mountOptions{Data: "size=100m,uid=1000"}},
		{name: "bind", in: "bind", want: mountOptions{Flags: unix.MS_BIND}},
		{name: "rbind ro", in: "rbind,ro", want: mountOptions{Flags: unix.MS_BIND | unix.MS_REC | unix.MS_RDONLY}},
		{name: "later option wins", in: "ro,rw,noexec", want: mountOptions{Flags: unix.MS_NOEXEC}},
		{name: "flags and data", in: "nosuid,nodev,mode=1777,size=1g", want: mountOptions{Flags: unix.MS_NOSUID | unix.MS_NODEV, Data: "mode=1777,size=1g"}},
		{name: "propagation", in: "bind,rshared", want: mountOptions{Flags: unix.MS_BIND, Propagation: unix.MS_SHARED | unix.MS_REC}},
		{name: "nfs", in: "addr=10.0.0.1,rw,nfsvers=4,soft", want: mountOptions{Data: "addr=10.0.0.1,nfsvers=4,soft"}},
		{name: "userspace only dropped", in: "defaults,noauto,_netdev,x-systemd.automount,comment=hi,nofail", want: mountOptions{}},
		{name: "empty elements", in: ",,size=1m,,", want: mountOptions{Data: "size=1m"}},
		{name: "quoted comma", in: `context="a,b",ro`, want: mountOptions{Flags: unix.MS_RDONLY, Data: `context="a,b"`}},
		{name: "quoted flag stays data", in: `"ro"`, want: mountOptions{Data: `"ro"`}},
		{name: "unterminated quote", in: `context="a,b`, bad: true},
		{name: "nul byte", in: "size=1m\x00,ro", bad: true},
		{name: "too long", in: "x=" + strings.Repeat("a", maxMountData), bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseMountOptions(tt.in)
			if tt.bad {
				if !errdefs.IsInvalidArgument(err) {
					t.Fatalf("parseMountOptions(%q) = %+v, %v; want invalid argument", tt.in, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("parseMountOptions(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestValidateLocalOptions_Table(t *testing.T) {
	tests := []struct {
		name string
		opts map[string]string
		msg  string // "" when valid
	}{
		{name: "none", opts: nil},
		{name: "tmpfs", opts: map[string]string{"type": "tmpfs", "device": "tmpfs", "o": "size=100m,uid=1000"}},
		{name: "bind", opts: map[string]string{"type": "none", "device": "/srv", "o": "bind"}},
		{name: "unknown", opts: map[string]string{"foo": "bar"}, msg: `invalid option: "foo"`},
		{name: "type without device", opts: map[string]string{"type": "tmpfs"}, msg: `missing required option: "device"`},
		{name: "device without type", opts: map[string]string{"device": "/dev/sda1"}, msg: `missing required option: "type"`},
		{name: "o alone", opts: map[string]string{"o": "size=1m"}, msg: `missing required option: "device"`},
		{name: "size needs quota", opts: map[string]string{"size": "10m"}, msg: "quota size requested but no quota support"},
		{name: "bad size", opts: map[string]string{"size": "lots"}, msg: "invalid size: 'lots'"},
		{name: "bad o", opts: map[string]string{"type": "tmpfs", "device": "tmpfs", "o": `a="`}, msg: "unterminated quote"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := validateLocalOptions(tt.opts)
			if tt.msg == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.msg) || !errdefs.IsInvalidArgument(err) {
				t.Fatalf("got %v, want invalid argument containing %q", err, tt.msg)
			}
		})
	}
}

func TestUnescapeMountinfo(t *testing.T) {
	for in, want := range map[string]string{
		`/a\040b`:  "/a b",
		`/plain`:   "/plain",
		`/t\011x`:  "/t\tx",
		`/short\0`: `/short\0`,
		`/x\999`:   `/x\999`,
	} {
		if got := unescapeMountinfo(in); got != want {
			t.Errorf("unescapeMountinfo(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzParseMountOptions(f *testing.F) {
	for _, seed := range []string{
		"", "size=100m,uid=1000", "bind,ro", "rbind,rslave,nosuid", `context="a,b,c",ro`,
		`"`, `""`, `"",",`, ",,,,", "x-foo,comment=,_netdev", "ro\x00rw", "addr=::1,vers=4",
		strings.Repeat("a,", 3000), strings.Repeat("=", 5000), "\xff\xfe,ro", `a="b"c"d,e"`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		mo, err := parseMountOptions(in)
		if err != nil {
			if !errdefs.IsInvalidArgument(err) {
				t.Fatalf("error %v is not invalid argument", err)
			}
			return
		}
		if strings.IndexByte(mo.Data, 0) >= 0 || len(mo.Data) > maxMountData {
			t.Fatalf("bad data %q", mo.Data)
		}
		if strings.HasPrefix(mo.Data, ",") || strings.HasSuffix(mo.Data, ",") {
			t.Fatalf("empty element in data %q", mo.Data)
		}
		// The data string is only filesystem options: parsing it again
		// yields it unchanged and no flags.
		again, err := parseMountOptions(mo.Data)
		if err != nil || again.Data != mo.Data || again.Flags != 0 || again.Propagation != 0 {
			t.Fatalf("reparse of %q: %+v, %v", mo.Data, again, err)
		}
	})
}
