package cli

import (
	"bytes"
	"testing"
	"time"

	"github.com/moby/moby/api/types/image"
)

func TestImageRows(t *testing.T) {
	const dg = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	img := image.Summary{
		ID:          "sha256:abcdef0123456789",
		RepoTags:    []string{"busybox:latest", "busybox:1.36", "registry.local:5000/team/app:v1"},
		RepoDigests: []string{"busybox@" + dg, "other/repo@" + dg},
	}
	type row struct{ repo, tag, digest string }
	tests := []struct {
		name    string
		img     image.Summary
		digests bool
		want    []row
	}{
		{"dangling", image.Summary{ID: "sha256:1"}, false, []row{{"<none>", "<none>", "<none>"}}},
		{"dangling none tags", image.Summary{ID: "sha256:1", RepoTags: []string{"<none>:<none>"}, RepoDigests: []string{"<none>@<none>"}}, false,
			[]row{{"<none>", "<none>", "<none>"}}},
		{"tags without digests", img, false, []row{
			{"busybox", "latest", "<none>"}, {"busybox", "1.36", "<none>"},
			{"registry.local:5000/team/app", "v1", "<none>"}, {"other/repo", "<none>", ""},
		}},
		{"tags with digests", img, true, []row{
			{"busybox", "latest", dg}, {"busybox", "1.36", dg},
			{"registry.local:5000/team/app", "v1", "<none>"}, {"other/repo", "<none>", dg},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rows := imageRows([]image.Summary{tc.img}, tc.digests, true, time.Now())
			if len(rows) != len(tc.want) {
				t.Fatalf("got %d rows, want %d: %+v", len(rows), len(tc.want), rows)
			}
			for i, r := range rows {
				if got := (row{r.Repository(), r.Tag(), r.Digest()}); got != tc.want[i] {
					t.Errorf("row %d = %+v, want %+v", i, got, tc.want[i])
				}
			}
		})
	}
}

func TestImagesTable(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	imgs := []image.Summary{{ID: "sha256:4c01db0b339c4bd2a8c1c4cc9b7c8f1e", RepoTags: []string{"busybox:latest"},
		Created: now.Add(-3 * 7 * 24 * time.Hour).Unix(), Size: 4_261_000, Containers: -1, SharedSize: -1}}
	var b bytes.Buffer
	if err := writeList(&b, listFormat{defaultTable: defaultImageTable}, imageRows(imgs, false, true, now)); err != nil {
		t.Fatal(err)
	}
	want := "REPOSITORY   TAG       IMAGE ID       CREATED       SIZE\n" +
		"busybox      latest    4c01db0b339c   3 weeks ago   4.26MB\n"
	if b.String() != want {
		t.Fatalf("got\n%q\nwant\n%q", b.String(), want)
	}
	x := imageRows(imgs, false, false, now)[0]
	if x.ID() != imgs[0].ID || x.Containers() != "N/A" || x.SharedSize() != "N/A" {
		t.Errorf("no-trunc row: %q %q %q", x.ID(), x.Containers(), x.SharedSize())
	}
}

func TestHistoryContext(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	h := image.HistoryResponseItem{ID: "<missing>", Created: now.Add(-2 * time.Hour).Unix(),
		CreatedBy: "/bin/sh -c #(nop)\tADD file:0123456789abcdef0123456789abcdef in / ", Size: 4_261_000}
	x := historyContext{h: h, trunc: true, human: true, now: now}
	if got := x.CreatedBy(); got != "/bin/sh -c #(nop) ADD file:0123456789abcdef0…" {
		t.Errorf("CreatedBy = %q", got)
	}
	if x.CreatedSince() != "2 hours ago" || x.Size() != "4.26MB" || x.ID() != "<missing>" {
		t.Errorf("human fields: %q %q %q", x.CreatedSince(), x.Size(), x.ID())
	}
	x.human = false
	if x.Size() != "4261000" || x.CreatedSince() != time.Unix(h.Created, 0).Format(time.RFC3339) {
		t.Errorf("raw fields: %q %q", x.Size(), x.CreatedSince())
	}
}

func TestImageSizesPrecision(t *testing.T) {
	x := imageContext{i: image.Summary{Size: 1_982_419, SharedSize: 0}}
	got := []string{x.Size(), x.VirtualSize(), x.SharedSize(), x.UniqueSize()}
	want := []string{"1.98MB", "1.982MB", "0B", "1.982MB"}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("Size, VirtualSize, SharedSize, UniqueSize = %q, want %q", got, want)
			break
		}
	}
}
