package spec

import (
	"bufio"
	"os"
	"slices"
	"strconv"
	"strings"
)

// capabilityNames returns the capability names indexed by their number, as
// far as this package knows them (Linux 5.9: CAP_CHECKPOINT_RESTORE).
func capabilityNames() []string {
	return []string{
		"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
		"CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID",
		"CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
		"CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
		"CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
		"CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
		"CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD",
		"CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP",
		"CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
		"CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
		"CAP_CHECKPOINT_RESTORE",
	}
}

// DefaultCapabilities returns dockerd's default capability set, in dockerd's
// order.
func DefaultCapabilities() []string {
	return []string{
		"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER",
		"CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID",
		"CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
		"CAP_KILL", "CAP_AUDIT_WRITE",
	}
}

// capSet describes the capabilities of the host as dockerd sees them.
type capSet struct {
	// known maps every capability name the kernel knows to whether this
	// process holds it (and so may hand it to a container).
	known map[string]bool
	// all lists the held capabilities in number order: what a privileged
	// container or --cap-add ALL gets.
	all []string
}

// probeCaps reads the kernel's last capability number and this process's
// effective set, as dockerd does (containerd's cap.Known and cap.Current).
// When the effective set cannot be read every known capability counts as
// held.
func probeCaps() capSet {
	names := capabilityNames()
	last := len(names) - 1
	if b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap"); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && n >= 0 && n < last {
			last = n
		}
	}
	eff, ok := effectiveCaps()
	cs := capSet{known: make(map[string]bool, last+1)}
	for i, name := range names[:last+1] {
		held := !ok || eff&(1<<uint(i)) != 0
		cs.known[name] = held
		if held {
			cs.all = append(cs.all, name)
		}
	}
	return cs
}

// effectiveCaps returns the CapEff mask of /proc/self/status.
func effectiveCaps() (uint64, bool) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && k == "CapEff" {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return n, err == nil
		}
	}
	return 0, false
}

// normalizeCaps upper-cases names and adds the CAP_ prefix; "ALL" stays.
// Unknown and unavailable names are errdefs.ErrInvalidArgument with
// dockerd's messages.
func (cs capSet) normalize(in []string) ([]string, error) {
	var out []string
	for _, c := range in {
		c = strings.ToUpper(c)
		if c == "ALL" {
			out = append(out, c)
			continue
		}
		if !strings.HasPrefix(c, "CAP_") {
			c = "CAP_" + c
		}
		held, ok := cs.known[c]
		if !ok {
			return nil, errUnknownCapability(c)
		}
		if !held {
			return nil, errUnavailableCapability(c)
		}
		out = append(out, c)
	}
	return out, nil
}

// capabilities computes the container's capability list the way dockerd's
// TweakCapabilities does: everything held for privileged containers, else
// the defaults minus CapDrop plus CapAdd, where CapAdd ALL means all held
// capabilities minus CapDrop and CapDrop ALL means only CapAdd.
func (cs capSet) capabilities(adds, drops []string, privileged bool) ([]string, error) {
	if privileged {
		return slices.Clone(cs.all), nil
	}
	basics := DefaultCapabilities()
	if len(adds) == 0 && len(drops) == 0 {
		return basics, nil
	}
	capDrop, err := cs.normalize(drops)
	if err != nil {
		return nil, err
	}
	capAdd, err := cs.normalize(adds)
	if err != nil {
		return nil, err
	}
	var out []string
	add := func(c string) {
		if c != "ALL" && !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	switch {
	case slices.Contains(capAdd, "ALL"):
		for _, c := range cs.all {
			if !slices.Contains(capDrop, c) {
				add(c)
			}
		}
	case slices.Contains(capDrop, "ALL"):
		for _, c := range capAdd {
			add(c)
		}
	default:
		for _, c := range basics {
			if !slices.Contains(capDrop, c) {
				add(c)
			}
		}
		for _, c := range capAdd {
			add(c)
		}
	}
	if out == nil {
		out = []string{}
	}
	return out, nil
}

// AllCapabilities returns every capability this process holds: what a
// privileged container, or a privileged exec, gets.
func AllCapabilities() ([]string, error) {
	return slices.Clone(probeCaps().all), nil
}
