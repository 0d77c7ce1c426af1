package snapshot_test

import (
	"testing"

	"github.com/opencontainers/go-digest"

	"berth/internal/snapshot"
)

func TestChainID(t *testing.T) {
	a := digest.FromString("a")
	b := digest.FromString("b")
	c := digest.FromString("c")
	ab := digest.FromString(string(a) + " " + string(b))
	abc := digest.FromString(string(ab) + " " + string(c))
	tests := []struct {
		name string
		in   []digest.Digest
		want digest.Digest
	}{
		{"none", nil, ""},
		{"one", []digest.Digest{a}, a},
		{"two", []digest.Digest{a, b}, ab},
		{"three", []digest.Digest{a, b, c}, abc},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := snapshot.ChainID(tc.in); got != tc.want {
				t.Errorf("ChainID = %s, want %s", got, tc.want)
			}
			ids := snapshot.ChainIDs(tc.in)
			if len(tc.in) > 0 && ids[len(ids)-1] != tc.want {
				t.Errorf("ChainIDs last = %s, want %s", ids[len(ids)-1], tc.want)
			}
		})
	}
}

// TestChainID_Known pins a chain ID computed outside Go:
//
//	printf 'sha256:<sha of "a"> sha256:<sha of "b">' | sha256sum
func TestChainID_Known(t *testing.T) {
	in := []digest.Digest{
		"sha256:ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb",
		"sha256:3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d",
	}
	const want = "sha256:51c0c8ace48498d6f5fee6b0592cc06f2da0f3cbe09c5a34a97dce85c3889676"
	if got := snapshot.ChainID(in); got != want {
		t.Errorf("got %s want %s", got, want)
	}
}
