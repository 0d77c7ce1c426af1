package cli

import (
	"strconv"
	"strings"
	"time"

	"github.com/distribution/reference"
	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/image"
)

// Default list formats of `images` and `history`, as Docker prints them.
const (
	defaultImageTable        = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
	defaultImageTableDigests = "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
	defaultHistoryTable      = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
	noneValue                = "<none>"
)

// imageContext renders one row of `images`: an image under one repository,
// tag and digest.
type imageContext struct {
	i                 image.Summary
	repo, tag, digest string
	trunc             bool
	now               time.Time
	hdr               bool
}

var _ formatter = imageContext{}

func (x imageContext) header() any { x.hdr = true; return x }

func (imageContext) fields() []string {
	return []string{"Containers", "CreatedAt", "CreatedSince", "Digest", "ID", "Repository",
		"SharedSize", "Size", "Tag", "UniqueSize", "VirtualSize"}
}

// ID is the image ID, 12 hex characters unless --no-trunc.
func (x imageContext) ID() string {
	if x.hdr {
		return "IMAGE ID"
	}
	if x.trunc {
		return truncateID(x.i.ID)
	}
	return x.i.ID
}

// Repository is the familiar repository name, or <none>.
func (x imageContext) Repository() string {
	if x.hdr {
		return "REPOSITORY"
	}
	return x.repo
}

// Tag is the tag, or <none>.
func (x imageContext) Tag() string {
	if x.hdr {
		return "TAG"
	}
	return x.tag
}

// Digest is the repository digest, or <none>.
func (x imageContext) Digest() string {
	if x.hdr {
		return "DIGEST"
	}
	return x.digest
}

// CreatedSince is the image age, e.g. "3 weeks ago".
func (x imageContext) CreatedSince() string {
	if x.hdr {
		return "CREATED"
	}
	return humanSince(x.now, x.i.Created)
}

// CreatedAt is the creation time as Go prints a time.
func (x imageContext) CreatedAt() string {
	if x.hdr {
		return "CREATED AT"
	}
	return time.Unix(x.i.Created, 0).String()
}

// Size is the image size in Docker's human form ("4.26MB").
func (x imageContext) Size() string {
	if x.hdr {
		return "SIZE"
	}
	return units.HumanSizeWithPrecision(float64(x.i.Size), 3)
}

// VirtualSize is the image size with docker's four-digit precision (kept
// for old templates).
func (x imageContext) VirtualSize() string {
	if x.hdr {
		return "VIRTUAL SIZE"
	}
	return units.HumanSize(float64(x.i.Size))
}

// SharedSize is the size shared with other images, or N/A.
func (x imageContext) SharedSize() string {
	if x.hdr {
		return "SHARED SIZE"
	}
	if x.i.SharedSize == -1 {
		return "N/A"
	}
	return units.HumanSize(float64(x.i.SharedSize))
}

// UniqueSize is Size minus SharedSize, or N/A.
func (x imageContext) UniqueSize() string {
	if x.hdr {
		return "UNIQUE SIZE"
	}
	if x.i.Size == -1 || x.i.SharedSize == -1 {
		return "N/A"
	}
	return units.HumanSize(float64(x.i.Size - x.i.SharedSize))
}

// Containers is the number of containers using the image, or N/A.
func (x imageContext) Containers() string {
	if x.hdr {
		return "CONTAINERS"
	}
	if x.i.Containers == -1 {
		return "N/A"
	}
	return strconv.FormatInt(x.i.Containers, 10)
}

// isDangling reports whether an image has neither tags nor digests.
func isDangling(img image.Summary) bool {
	if len(img.RepoTags) == 0 && len(img.RepoDigests) == 0 {
		return true
	}
	return len(img.RepoTags) == 1 && img.RepoTags[0] == "<none>:<none>" &&
		len(img.RepoDigests) == 1 && img.RepoDigests[0] == "<none>@<none>"
}

// imageRows expands image summaries into `images` rows the way Docker does:
// one row per repository:tag (times each digest with --digests), then rows
// for digest-only references.
func imageRows(images []image.Summary, digests, trunc bool, now time.Time) []imageContext {
	var rows []imageContext
	for _, img := range images {
		add := func(repo, tag, digest string) {
			rows = append(rows, imageContext{i: img, repo: repo, tag: tag, digest: digest, trunc: trunc, now: now})
		}
		if isDangling(img) {
			add(noneValue, noneValue, noneValue)
			continue
		}
		var repoOrder []string
		repoTags := map[string][]string{}
		repoDigests := map[string][]string{}
		var digestOrder []string
		for _, s := range img.RepoTags {
			ref, err := reference.ParseNormalizedNamed(s)
			if err != nil {
				continue
			}
			if nt, ok := ref.(reference.NamedTagged); ok {
				name := reference.FamiliarName(ref)
				if _, seen := repoTags[name]; !seen {
					repoOrder = append(repoOrder, name)
				}
				repoTags[name] = append(repoTags[name], nt.Tag())
			}
		}
		for _, s := range img.RepoDigests {
			ref, err := reference.ParseNormalizedNamed(s)
			if err != nil {
				continue
			}
			if c, ok := ref.(reference.Canonical); ok {
				name := reference.FamiliarName(ref)
				if _, seen := repoDigests[name]; !seen {
					digestOrder = append(digestOrder, name)
				}
				repoDigests[name] = append(repoDigests[name], c.Digest().String())
			}
		}
		for _, repo := range repoOrder {
			ds := repoDigests[repo]
			delete(repoDigests, repo)
			if !digests {
				ds = nil
			}
			for _, tag := range repoTags[repo] {
				if len(ds) == 0 {
					add(repo, tag, noneValue)
					continue
				}
				for _, d := range ds {
					add(repo, tag, d)
				}
			}
		}
		for _, repo := range digestOrder {
			ds, ok := repoDigests[repo]
			if !ok {
				continue
			}
			if digests {
				for _, d := range ds {
					add(repo, noneValue, d)
				}
			} else {
				add(repo, noneValue, "")
			}
		}
	}
	return rows
}

// historyContext renders one layer of `history`.
type historyContext struct {
	h     image.HistoryResponseItem
	trunc bool
	human bool
	now   time.Time
	hdr   bool
}

var _ formatter = historyContext{}

func (x historyContext) header() any { x.hdr = true; return x }

func (historyContext) fields() []string {
	return []string{"Comment", "CreatedAt", "CreatedBy", "CreatedSince", "ID", "Size"}
}

// ID is the layer's image ID or <missing>.
func (x historyContext) ID() string {
	if x.hdr {
		return "IMAGE"
	}
	if x.trunc {
		return truncateID(x.h.ID)
	}
	return x.h.ID
}

// CreatedAt is the creation time, RFC 3339 unless human.
func (x historyContext) CreatedAt() string {
	if x.hdr {
		return "CREATED AT"
	}
	return time.Unix(x.h.Created, 0).Format(time.RFC3339)
}

// CreatedSince is "N ago" in human mode, else RFC 3339.
func (x historyContext) CreatedSince() string {
	if x.hdr {
		return "CREATED"
	}
	if !x.human {
		return x.CreatedAt()
	}
	return humanSince(x.now, x.h.Created)
}

// CreatedBy is the instruction that made the layer, cut to 45 characters.
func (x historyContext) CreatedBy() string {
	if x.hdr {
		return "CREATED BY"
	}
	s := strings.ReplaceAll(x.h.CreatedBy, "\t", " ")
	if x.trunc {
		s = ellipsis(s, 45)
	}
	return s
}

// Size is the layer size, human unless -H=false.
func (x historyContext) Size() string {
	if x.hdr {
		return "SIZE"
	}
	if x.human {
		return units.HumanSizeWithPrecision(float64(x.h.Size), 3)
	}
	return strconv.FormatInt(x.h.Size, 10)
}

// Comment is the layer's comment.
func (x historyContext) Comment() string {
	if x.hdr {
		return "COMMENT"
	}
	return x.h.Comment
}
