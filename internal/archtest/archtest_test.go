package archtest

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

// layers maps each berth package (path below "berth/") to its layer.
// A new package must be added here, which makes its place a reviewed choice.
var layers = map[string]int{
	"internal/log":                     0,
	"internal/filters":                 0,
	"internal/logger/logmsg":           0,
	"internal/testutil":                0,
	"internal/archive":                 1,
	"internal/content":                 1,
	"internal/snapshot":                1,
	"internal/metadata":                1,
	"internal/events":                  1,
	"internal/logger":                  1,
	"internal/logger/jsonfile":         1,
	"internal/runtime/oci":             1,
	"internal/runtime/spec":            1,
	"internal/runtime/shim":            1,
	"internal/runtime/initproc":        1,
	"internal/snapshot/snapshottest":   1,
	"internal/network/ipam":            1,
	"internal/network/nft":             1,
	"internal/network/netns":           1,
	"internal/network/bridge":          1,
	"internal/network/dns":             1,
	"internal/volume/plugin":           1,
	"internal/container":               2,
	"internal/image":                   2,
	"internal/distribution":            2,
	"internal/api/router/distribution": 3,
	"internal/volume":                  2,
	"internal/registry":                2,
	"internal/api/server":              3,
	"internal/api/router/container":    3,
	"internal/api/router/image":        3,
	"internal/network":                 2,
	"internal/api/router/network":      3,
	"internal/api/router/volume":       3,
	"internal/api/router/system":       3,
	"internal/config":                  4,
	"internal/daemon":                  4,
	"internal/cli":                     4,
	"cmd/berthd":                       4,
	"cmd/berth":                        4,
	"cmd/berth-shim":                   4,
	"internal/archtest":                4,
}

// sameLayer lists the allowed imports within one layer ("from -> to").
var sameLayer = map[string]bool{
	"internal/snapshot -> internal/archive":                         true,
	"internal/snapshot/snapshottest -> internal/snapshot":           true,
	"internal/snapshot/snapshottest -> internal/archive":            true,
	"internal/image -> internal/archive":                            true,
	"internal/distribution -> internal/image":                       true,
	"internal/api/router/distribution -> internal/api/server":       true,
	"internal/api/router/distribution -> internal/api/router/image": true,
	"internal/runtime/shim -> internal/runtime/oci":                 true,
	"internal/runtime/shim -> internal/logger":                      true,
	"internal/logger -> internal/logger/jsonfile":                   true,
	"internal/network/bridge -> internal/network/netns":             true,
	"internal/network/dns -> internal/network/netns":                true,
	"internal/api/router/container -> internal/api/server":          true,
	"internal/api/router/image -> internal/api/server":              true,
	"internal/api/router/volume -> internal/api/server":             true,
	"internal/api/router/network -> internal/api/server":            true,
	"internal/api/router/system -> internal/api/server":             true,
	"internal/daemon -> internal/config":                            true,
	"internal/testutil -> internal/log":                             true,
	"cmd/berthd -> internal/config":                                 true,
	"cmd/berthd -> internal/daemon":                                 true,
	"cmd/berth -> internal/cli":                                     true,
}

// testOnly are packages production code must not import.
var testOnly = map[string]bool{"internal/testutil": true, "internal/snapshot/snapshottest": true}

type pkg struct {
	ImportPath string
	Imports    []string
}

func TestImportRules(t *testing.T) {
	out, err := exec.Command("go", "list", "-json", "berth/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	n := 0
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		n++
		from := strings.TrimPrefix(p.ImportPath, "berth/")
		if !strings.HasPrefix(from, "internal/") && !strings.HasPrefix(from, "cmd/") {
			continue // bench/ and test/ drive the product from outside
		}
		lf, ok := layers[from]
		if !ok {
			t.Errorf("package %s has no layer in the archtest table", from)
			continue
		}
		for _, imp := range p.Imports {
			if !strings.HasPrefix(imp, "berth/") {
				continue
			}
			to := strings.TrimPrefix(imp, "berth/")
			lt, ok := layers[to]
			switch {
			case !ok:
				t.Errorf("%s imports %s, which has no layer", from, to)
			case testOnly[to] && !testOnly[from]:
				t.Errorf("%s imports the test-only package %s", from, to)
			case from == "internal/cli" || from == "cmd/berth" && to != "internal/cli":
				t.Errorf("%s imports %s: the CLI reaches the daemon only through the moby client", from, to)
			case lt > lf:
				t.Errorf("%s (L%d) imports %s (L%d): imports go downward only", from, lf, to, lt)
			case lt == lf && !sameLayer[from+" -> "+to]:
				t.Errorf("%s imports %s in the same layer L%d, an edge the table does not allow", from, to, lf)
			}
		}
	}
	if n < 10 {
		t.Fatalf("go list returned only %d packages", n)
	}
}
