package cli

import (
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/volume"
)

func ids[T any](items []T, id func(T) string) []string {
	var out []string
	for _, it := range items {
		out = append(out, id(it))
	}
	return out
}

func TestSelectContainersToPrune(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	cs := []container.Summary{
		{ID: "running", State: container.StateRunning, Created: 1},
		{ID: "paused", State: container.StatePaused, Created: 1},
		{ID: "restarting", State: container.StateRestarting, Created: 1},
		{ID: "exited", State: container.StateExited, Created: 1, Labels: map[string]string{"keep": "yes"}},
		{ID: "created", State: container.StateCreated, Created: now.Unix() - 60},
		{ID: "dead", State: container.StateDead, Created: 1, Labels: map[string]string{"env": "test"}},
	}
	tests := []struct {
		name    string
		filters []string
		want    []string
	}{
		{"stopped only", nil, []string{"exited", "created", "dead"}},
		{"until", []string{"until=10m"}, []string{"exited", "dead"}},
		{"label", []string{"label=env=test"}, []string{"dead"}},
		{"label key", []string{"label=keep"}, []string{"exited"}},
		{"label not", []string{"label!=keep"}, []string{"created", "dead"}},
		{"label not value", []string{"label!=env=prod"}, []string{"exited", "created", "dead"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := parsePruneFilters(tc.filters, now)
			if err != nil {
				t.Fatal(err)
			}
			got := ids(selectContainersToPrune(cs, f), func(c container.Summary) string { return c.ID })
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("got %v, want %v", got, tc.want)
				}
			}
		})
	}
}

func TestParsePruneFilters_Errors(t *testing.T) {
	for _, bad := range [][]string{{"dangling"}, {"name=x"}, {"until=never"}} {
		if _, err := parsePruneFilters(bad, time.Now()); err == nil {
			t.Errorf("parsePruneFilters(%v) succeeded", bad)
		}
	}
}

func TestSelectImagesToPrune(t *testing.T) {
	imgs := []image.Summary{
		{ID: "dangling-unused"},
		{ID: "dangling-used"},
		{ID: "none-tag", RepoTags: []string{"<none>:<none>"}, RepoDigests: []string{"<none>@<none>"}},
		{ID: "tagged-unused", RepoTags: []string{"a:1"}},
		{ID: "tagged-used", RepoTags: []string{"b:1"}},
		{ID: "digest-only", RepoDigests: []string{"c@sha256:1111111111111111111111111111111111111111111111111111111111111111"}},
	}
	cs := []container.Summary{{ImageID: "dangling-used"}, {ImageID: "tagged-used"}}
	used := imagesInUse(cs)
	name := func(i image.Summary) string { return i.ID }
	got := ids(selectImagesToPrune(imgs, used, false, pruneFilter{}), name)
	if want := []string{"dangling-unused", "none-tag"}; !equalStrings(got, want) {
		t.Errorf("dangling: got %v, want %v", got, want)
	}
	got = ids(selectImagesToPrune(imgs, used, true, pruneFilter{}), name)
	if want := []string{"dangling-unused", "none-tag", "tagged-unused", "digest-only"}; !equalStrings(got, want) {
		t.Errorf("all: got %v, want %v", got, want)
	}
}

func TestSystemPruneSelection_ImagesFreedByContainerPrune(t *testing.T) {
	cs := []container.Summary{
		{ID: "old", State: container.StateExited, ImageID: "img-a", Mounts: []container.MountPoint{{Name: "v-old"}}},
		{ID: "live", State: container.StateRunning, ImageID: "img-b", Mounts: []container.MountPoint{{Name: "v-live"}},
			NetworkSettings: &container.NetworkSettingsSummary{Networks: map[string]*network.EndpointSettings{"appnet": {}}}},
	}
	left := remaining(cs, selectContainersToPrune(cs, pruneFilter{}))
	imgs := []image.Summary{{ID: "img-a", RepoTags: []string{"a:1"}}, {ID: "img-b", RepoTags: []string{"b:1"}}}
	if got := ids(selectImagesToPrune(imgs, imagesInUse(left), true, pruneFilter{}), func(i image.Summary) string { return i.ID }); !equalStrings(got, []string{"img-a"}) {
		t.Errorf("images: %v", got)
	}
	anon := map[string]string{anonymousVolumeLabel: ""}
	vols := []volume.Volume{{Name: "v-old", Driver: "local", Labels: anon}, {Name: "v-live", Driver: "local", Labels: anon},
		{Name: "named", Driver: "local"}, {Name: "plugin", Driver: "other", Labels: anon}}
	if got := ids(selectVolumesToPrune(vols, left, false, pruneFilter{}), func(v volume.Volume) string { return v.Name }); !equalStrings(got, []string{"v-old"}) {
		t.Errorf("volumes: %v", got)
	}
	if got := ids(selectVolumesToPrune(vols, left, true, pruneFilter{}), func(v volume.Volume) string { return v.Name }); !equalStrings(got, []string{"v-old", "named"}) {
		t.Errorf("volumes all: %v", got)
	}
	nets := []network.Summary{{Network: network.Network{Name: "bridge"}}, {Network: network.Network{Name: "appnet"}}, {Network: network.Network{Name: "idle"}}}
	if got := ids(selectNetworksToPrune(nets, left, pruneFilter{}), func(n network.Summary) string { return n.Name }); !equalStrings(got, []string{"idle"}) {
		t.Errorf("networks: %v", got)
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
