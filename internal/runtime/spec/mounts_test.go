package spec

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/mount"
	"github.com/opencontainers/runtime-spec/specs-go"
)

func TestParseBind(t *testing.T) {
	tests := []struct {
		raw     string
		want    specs.Mount
		wantErr string // exact message; "" with notImpl set means ErrNotImplemented
		notImpl bool
	}{
		{raw: "/src:/dst", want: specs.Mount{Destination: "/dst", Type: "bind", Source: "/src", Options: []string{"rbind", "rprivate"}}},
		{raw: "/src/:/dst/sub/", want: specs.Mount{Destination: "/dst/sub", Type: "bind", Source: "/src", Options: []string{"rbind", "rprivate"}}},
		{raw: "/src:/dst:rw", want: specs.Mount{Destination: "/dst", Type: "bind", Source: "/src", Options: []string{"rbind", "rprivate"}}},
		{raw: "/src:/dst:ro", want: specs.Mount{Destination: "/dst", Type: "bind", Source: "/src", Options: []string{"rbind", "ro", "rro", "rprivate"}}},
		{raw: "/src:/dst:ro,z,rshared", want: specs.Mount{Destination: "/dst", Type: "bind", Source: "/src", Options: []string{"rbind", "ro", "rro", "rshared"}}},
		{raw: "/src:/dst:Z,slave", want: specs.Mount{Destination: "/dst", Type: "bind", Source: "/src", Options: []string{"rbind", "slave"}}},
		{raw: "/src:/dst:cached", want: specs.Mount{Destination: "/dst", Type: "bind", Source: "/src", Options: []string{"rbind", "rprivate"}}},
		{raw: "/src:rel", wantErr: `invalid volume specification: '/src:rel': invalid mount config for type "bind": invalid mount path: 'rel' mount path must be absolute`},
		{raw: "/src:/", wantErr: `invalid volume specification: '/src:/': invalid mount config for type "bind": invalid specification: destination can't be '/'`},
		{raw: "/src:/dst:nocopy", wantErr: `invalid volume specification: '/src:/dst:nocopy': invalid mount config for type "bind": field VolumeOptions must not be specified`},
		{raw: "/src:ro", wantErr: "invalid volume specification: '/src:ro'"},
		{raw: "/src:/dst:bogus", wantErr: "invalid mode: bogus"},
		{raw: "/src:/dst:ro,rw", wantErr: "invalid mode: ro,rw"},
		{raw: "/src:/dst:ro:extra", wantErr: "invalid volume specification: '/src:/dst:ro:extra'"},
		{raw: "", wantErr: "invalid volume specification: ''"},
		{raw: ":/dst", wantErr: "invalid volume specification: ':/dst'"},
		{raw: "myvol:/data", notImpl: true},
		{raw: "/data", notImpl: true},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			b, err := parseBind(tt.raw)
			switch {
			case tt.notImpl:
				if !errdefs.IsNotImplemented(err) {
					t.Fatalf("err = %v, want not implemented", err)
				}
				return
			case tt.wantErr != "":
				if err == nil || err.Error() != tt.wantErr || !errdefs.IsInvalidArgument(err) {
					t.Fatalf("err = %v, want invalid argument %q", err, tt.wantErr)
				}
				return
			case err != nil:
				t.Fatal(err)
			}
			if !b.createSource {
				t.Error("-v binds must create a missing source")
			}
			got, err := b.specMount(true)
			if err != nil {
				t.Fatal(err)
			}
			if got.Destination != tt.want.Destination || got.Source != tt.want.Source || got.Type != tt.want.Type || !slices.Equal(got.Options, tt.want.Options) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestBindMount_ReadOnlyWithoutRecursiveSupport(t *testing.T) {
	b := bindMount{source: "/s", target: "/d", readOnly: true}
	got, err := b.specMount(false)
	if err != nil || !slices.Equal(got.Options, []string{"rbind", "ro", "rprivate"}) {
		t.Errorf("got %v, %v", got.Options, err)
	}
	b.forceRecursive = true
	if _, err := b.specMount(false); !errdefs.IsFailedPrecondition(err) {
		t.Errorf("forced recursive read-only without support: err = %v", err)
	}
	b = bindMount{source: "/s", target: "/d", readOnly: true, roNonRecursive: true, nonRecursive: true, propagation: "rslave"}
	got, _ = b.specMount(true)
	if !slices.Equal(got.Options, []string{"bind", "ro", "rslave"}) {
		t.Errorf("non-recursive: got %v", got.Options)
	}
}

func TestTmpfsMount_Options(t *testing.T) {
	tests := []struct {
		dst, data string
		want      []string
		wantErr   string
	}{
		{dst: "/run", data: "", want: []string{"noexec", "nosuid", "nodev", "rprivate"}},
		{dst: "/run", data: "size=64m,mode=755", want: []string{"noexec", "nosuid", "nodev", "rprivate", "size=64m", "mode=755"}},
		{dst: "/run", data: "exec", want: []string{"nosuid", "nodev", "rprivate", "exec"}},
		{dst: "/run", data: "size=1m,size=2m,suid,rshared", want: []string{"noexec", "nodev", "size=2m", "suid", "rshared"}},
		{dst: "/run", data: "ro,defaults,uid=1000,gid=1000,nr_inodes=10", want: []string{"noexec", "nosuid", "nodev", "rprivate", "ro", "uid=1000", "gid=1000", "nr_inodes=10"}},
		{dst: "/run", data: "foo", wantErr: `invalid tmpfs option ["foo"]`},
		{dst: "/run", data: "context=x", wantErr: `invalid tmpfs option ["context" "x"]`},
		{dst: "/", wantErr: `invalid mount config for type "tmpfs": invalid specification: destination can't be '/'`},
		{dst: "run", wantErr: `invalid mount config for type "tmpfs": invalid mount path: 'run' mount path must be absolute`},
	}
	for _, tt := range tests {
		t.Run(tt.dst+" "+tt.data, func(t *testing.T) {
			got, err := tmpfsMount(tt.dst, tt.data)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr || !errdefs.IsInvalidArgument(err) {
					t.Fatalf("err = %v, want invalid argument %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Type != "tmpfs" || got.Source != "tmpfs" || !slices.Equal(got.Options, tt.want) {
				t.Errorf("got %+v, want options %v", got, tt.want)
			}
		})
	}
}

func TestTmpfsData(t *testing.T) {
	tests := []struct {
		name     string
		opts     *mount.TmpfsOptions
		readOnly bool
		want     string
		wantErr  bool
	}{
		{name: "nil", want: ""},
		{name: "read-only", readOnly: true, want: "ro"},
		{name: "size in MiB", opts: &mount.TmpfsOptions{SizeBytes: 64 << 20}, want: "size=64m"},
		{name: "size in GiB", opts: &mount.TmpfsOptions{SizeBytes: 2 << 30}, want: "size=2g"},
		{name: "size in KiB", opts: &mount.TmpfsOptions{SizeBytes: 3 << 10}, want: "size=3k"},
		{name: "odd size", opts: &mount.TmpfsOptions{SizeBytes: 1000}, want: "size=1000"},
		{name: "mode", opts: &mount.TmpfsOptions{Mode: 0o1777}, want: "mode=1777"},
		{name: "all", readOnly: true, opts: &mount.TmpfsOptions{Mode: 0o700, SizeBytes: 1 << 20, Options: [][]string{{"exec"}}}, want: "ro,mode=700,size=1m,exec"},
		{name: "bad option", opts: &mount.TmpfsOptions{Options: [][]string{{"nosuid"}}}, wantErr: true},
		{name: "bad option length", opts: &mount.TmpfsOptions{Options: [][]string{{}}}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tmpfsData(tt.opts, tt.readOnly)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("got %q, %v; want %q (error %v)", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestAPIMount(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing")
	tests := []struct {
		name    string
		m       mount.Mount
		want    *specs.Mount
		wantErr string
		notImpl bool
	}{
		{name: "bind", m: mount.Mount{Type: mount.TypeBind, Source: dir, Target: "/data"},
			want: &specs.Mount{Destination: "/data", Type: "bind", Source: dir, Options: []string{"rbind", "rprivate"}}},
		{name: "bind read-only private", m: mount.Mount{Type: mount.TypeBind, Source: dir, Target: "/data", ReadOnly: true, BindOptions: &mount.BindOptions{Propagation: mount.PropagationPrivate}},
			want: &specs.Mount{Destination: "/data", Type: "bind", Source: dir, Options: []string{"rbind", "ro", "rro", "private"}}},
		{name: "bind missing source", m: mount.Mount{Type: mount.TypeBind, Source: missing, Target: "/data"},
			wantErr: `invalid mount config for type "bind": bind source path does not exist: ` + missing},
		{name: "bind missing source created", m: mount.Mount{Type: mount.TypeBind, Source: missing, Target: "/data", BindOptions: &mount.BindOptions{CreateMountpoint: true}},
			want: &specs.Mount{Destination: "/data", Type: "bind", Source: missing, Options: []string{"rbind", "rprivate"}}},
		{name: "bind relative target", m: mount.Mount{Type: mount.TypeBind, Source: dir, Target: "data"},
			wantErr: `invalid mount config for type "bind": invalid mount path: 'data' mount path must be absolute`},
		{name: "bind relative source", m: mount.Mount{Type: mount.TypeBind, Source: "src", Target: "/data"},
			wantErr: `invalid mount config for type "bind": invalid mount path: 'src' mount path must be absolute`},
		{name: "bind bad propagation", m: mount.Mount{Type: mount.TypeBind, Source: dir, Target: "/data", BindOptions: &mount.BindOptions{Propagation: "sideways"}},
			wantErr: `invalid mount config for type "bind": invalid propagation mode: sideways`},
		{name: "bind with tmpfs options", m: mount.Mount{Type: mount.TypeBind, Source: dir, Target: "/data", TmpfsOptions: &mount.TmpfsOptions{}},
			wantErr: `invalid mount config for type "bind": field TmpfsOptions must not be specified`},
		{name: "tmpfs", m: mount.Mount{Type: mount.TypeTmpfs, Target: "/scratch", TmpfsOptions: &mount.TmpfsOptions{SizeBytes: 1 << 20, Mode: 0o700}},
			want: &specs.Mount{Destination: "/scratch", Type: "tmpfs", Source: "tmpfs", Options: []string{"noexec", "nosuid", "nodev", "rprivate", "mode=700", "size=1m"}}},
		{name: "tmpfs with source", m: mount.Mount{Type: mount.TypeTmpfs, Source: "x", Target: "/scratch"},
			wantErr: `invalid mount config for type "tmpfs": field Source must not be specified`},
		{name: "volume", m: mount.Mount{Type: mount.TypeVolume, Source: "v", Target: "/v"}, notImpl: true},
		{name: "unknown type", m: mount.Mount{Type: "weird", Target: "/v"}, wantErr: `invalid mount config for type "weird": mount type unknown`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, tm, err := apiMount(tt.m)
			switch {
			case tt.notImpl:
				if !errdefs.IsNotImplemented(err) {
					t.Fatalf("err = %v, want not implemented", err)
				}
				return
			case tt.wantErr != "":
				if err == nil || err.Error() != tt.wantErr || !errdefs.IsInvalidArgument(err) {
					t.Fatalf("err = %v, want invalid argument %q", err, tt.wantErr)
				}
				return
			case err != nil:
				t.Fatal(err)
			}
			got := tm
			if b != nil {
				m, err := b.specMount(true)
				if err != nil {
					t.Fatal(err)
				}
				got = &m
			}
			if got.Destination != tt.want.Destination || got.Source != tt.want.Source || got.Type != tt.want.Type || !slices.Equal(got.Options, tt.want.Options) {
				t.Errorf("got %+v\nwant %+v", *got, *tt.want)
			}
		})
	}
	if _, err := os.Stat(missing); err == nil {
		t.Error("apiMount must not create sources; Generate does")
	}
}

func FuzzParseBind(f *testing.F) {
	for _, s := range []string{"/a:/b", "/a:/b:ro,z,rshared", "v:/b", "/b", "::", ":::::", "/a:/b:ro,ro", "/a:../../x",
		"/a:/b:nocopy", "/a:/\x00", "/a:/b:" + string(make([]byte, 300)), "C:\\x:/y", "/a:/b/../../..:rw"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		b, err := parseBind(raw)
		if err != nil {
			if !errdefs.IsInvalidArgument(err) && !errdefs.IsNotImplemented(err) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		m, err := b.specMount(true)
		if err != nil {
			t.Fatal(err)
		}
		if !filepath.IsAbs(m.Source) || !filepath.IsAbs(m.Destination) || m.Destination == "/" {
			t.Fatalf("accepted %q as %+v", raw, m)
		}
	})
}

func FuzzTmpfsMount(f *testing.F) {
	for _, s := range []string{"", "size=64m,mode=755", "exec", ",,,", "=", "size", "size=1=2", "bind,rbind", "defaults,ro,rw"} {
		f.Add("/run", s)
	}
	f.Add("", "")
	f.Add("../x", "size=1")
	f.Fuzz(func(t *testing.T, dst, data string) {
		m, err := tmpfsMount(dst, data)
		if err != nil {
			if !errdefs.IsInvalidArgument(err) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		seen := map[string]bool{}
		for _, o := range m.Options {
			k := mountFlagGroup(o)
			if k == "" {
				k = o
			}
			if seen[k] {
				t.Fatalf("option group %q twice in %v", k, m.Options)
			}
			seen[k] = true
		}
	})
}
