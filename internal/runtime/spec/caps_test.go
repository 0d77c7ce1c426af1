package spec

import (
	"slices"
	"testing"

	"github.com/containerd/errdefs"
)

// fakeCaps knows every capability and holds all but CAP_SYS_RESOURCE.
func fakeCaps() capSet {
	cs := capSet{known: map[string]bool{}}
	for _, n := range capabilityNames() {
		held := n != "CAP_SYS_RESOURCE"
		cs.known[n] = held
		if held {
			cs.all = append(cs.all, n)
		}
	}
	return cs
}

func TestCapabilities_AddDrop(t *testing.T) {
	defaults := DefaultCapabilities()
	without := func(drop ...string) []string {
		return slices.DeleteFunc(slices.Clone(defaults), func(c string) bool { return slices.Contains(drop, c) })
	}
	allHeld := fakeCaps().all
	tests := []struct {
		name       string
		add, drop  []string
		privileged bool
		want       []string
		wantErr    string
	}{
		{name: "defaults", want: defaults},
		{name: "add lower case without prefix", add: []string{"sys_admin"}, want: append(slices.Clone(defaults), "CAP_SYS_ADMIN")},
		{name: "add with prefix mixed case", add: []string{"Cap_Net_Admin"}, want: append(slices.Clone(defaults), "CAP_NET_ADMIN")},
		{name: "add already present is not duplicated", add: []string{"CHOWN"}, want: defaults},
		{name: "drop one", drop: []string{"net_raw"}, want: without("CAP_NET_RAW")},
		{name: "drop and add", add: []string{"SYS_PTRACE"}, drop: []string{"CAP_MKNOD", "kill"}, want: append(without("CAP_MKNOD", "CAP_KILL"), "CAP_SYS_PTRACE")},
		{name: "drop all add one", add: []string{"chown"}, drop: []string{"ALL"}, want: []string{"CAP_CHOWN"}},
		{name: "drop all lower case", drop: []string{"all"}, want: []string{}},
		{name: "add all drop one", add: []string{"ALL"}, drop: []string{"NET_RAW"}, want: slices.DeleteFunc(slices.Clone(allHeld), func(c string) bool { return c == "CAP_NET_RAW" })},
		{name: "privileged gets all held", privileged: true, drop: []string{"ALL"}, want: allHeld},
		{name: "unknown add", add: []string{"foo"}, wantErr: `unknown capability: "CAP_FOO"`},
		{name: "unknown drop", drop: []string{"CAP_BAR"}, wantErr: `unknown capability: "CAP_BAR"`},
		{name: "known but not held", add: []string{"SYS_RESOURCE"}, wantErr: `capability not supported by your kernel or not available in the current environment: "CAP_SYS_RESOURCE"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := fakeCaps().capabilities(tt.add, tt.drop, tt.privileged)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr || !errdefs.IsInvalidArgument(err) {
					t.Fatalf("err = %v, want invalid argument %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %v\nwant %v", got, tt.want)
			}
		})
	}
}

func TestProbeCaps_MatchesKernel(t *testing.T) {
	cs := probeCaps()
	if len(cs.known) == 0 || len(cs.known) > len(capabilityNames()) {
		t.Fatalf("known = %d capabilities", len(cs.known))
	}
	for _, c := range cs.all {
		if !cs.known[c] {
			t.Errorf("%s listed as held but not marked held", c)
		}
	}
}
