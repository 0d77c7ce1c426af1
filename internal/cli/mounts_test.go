package cli

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/mount"
)

func TestParseMount(t *testing.T) {
	tests := []struct {
		in      string
		want    mount.Mount
		wantErr string
	}{
		{in: "type=bind,source=/a,target=/b,readonly",
			want: mount.Mount{Type: mount.TypeBind, Source: "/a", Target: "/b", ReadOnly: true}},
		{in: "src=data,dst=/data", want: mount.Mount{Type: mount.TypeVolume, Source: "data", Target: "/data"}},
		{in: "type=bind,src=/a,target=/b,bind-propagation=rshared,ro=false",
			want: mount.Mount{Type: mount.TypeBind, Source: "/a", Target: "/b",
				BindOptions: &mount.BindOptions{Propagation: mount.PropagationRShared}}},
		{in: "type=tmpfs,target=/t,tmpfs-size=64m,tmpfs-mode=1770",
			want: mount.Mount{Type: mount.TypeTmpfs, Target: "/t",
				TmpfsOptions: &mount.TmpfsOptions{SizeBytes: 64 << 20, Mode: os.FileMode(0o1770)}}},
		{in: `type=volume,target=/v,volume-nocopy,"volume-label=a=b",volume-driver=local,volume-opt=o=1`,
			want: mount.Mount{Type: mount.TypeVolume, Target: "/v", VolumeOptions: &mount.VolumeOptions{
				NoCopy: true, Labels: map[string]string{"a": "b"},
				DriverConfig: &mount.Driver{Name: "local", Options: map[string]string{"o": "1"}}}}},
		{in: "type=bind,target=/b,bind-recursive=readonly,src=/x",
			want: mount.Mount{Type: mount.TypeBind, Source: "/x", Target: "/b",
				BindOptions: &mount.BindOptions{ReadOnlyForceRecursive: true}}},
		{in: "source=/a", wantErr: "target is required"},
		{in: "type=,target=/a", wantErr: "type is required"},
		{in: "target=/a,bogus", wantErr: "invalid field 'bogus' must be a key=value pair"},
		{in: "target=/a,foo=bar", wantErr: "unexpected key 'foo' in 'foo=bar'"},
		{in: "target=/a,ro=maybe", wantErr: "invalid value for ro: maybe"},
		{in: "type=bind,target=/a,volume-nocopy", wantErr: "cannot mix 'volume-*' options with mount type 'bind'"},
		{in: "type=volume,target=/a,bind-propagation=shared", wantErr: "cannot mix 'bind-*'"},
		{in: "type=bind,target=/a,tmpfs-size=1m", wantErr: "cannot mix 'tmpfs-*'"},
		{in: "type=tmpfs,target=/a,tmpfs-size=lots", wantErr: "invalid value for tmpfs-size"},
		{in: `"unterminated`, wantErr: "invalid mount"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseMount(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestParseVolume(t *testing.T) {
	tests := []struct {
		in      string
		want    volumeSpec
		bind    bool
		wantErr bool
	}{
		{in: "/data", want: volumeSpec{target: "/data"}},
		{in: "/host:/ctr", want: volumeSpec{source: "/host", target: "/ctr"}, bind: true},
		{in: "./rel:/ctr:ro", want: volumeSpec{source: "./rel", target: "/ctr", mode: "ro"}, bind: true},
		{in: "named:/ctr", want: volumeSpec{source: "named", target: "/ctr"}},
		{in: "", wantErr: true},
		{in: "a::b", wantErr: true},
		{in: "a:b:c:d", wantErr: true},
	}
	for _, tc := range tests {
		got, err := parseVolume(tc.in)
		if tc.wantErr {
			if err == nil {
				t.Errorf("parseVolume(%q) succeeded", tc.in)
			}
			continue
		}
		if err != nil || got != tc.want || got.isBind() != tc.bind {
			t.Errorf("parseVolume(%q) = %+v (bind %v), %v", tc.in, got, got.isBind(), err)
		}
	}
}
