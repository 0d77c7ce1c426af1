package spec

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/moby/profiles/seccomp"
	"github.com/opencontainers/runtime-spec/specs-go"
)

// securityOpts are the parsed HostConfig.SecurityOpt entries.
type securityOpts struct {
	noNewPrivileges bool
	// seccomp is "" or "builtin"/"default" for the default profile,
	// "unconfined" for none, else a JSON profile.
	seccomp         string
	writableCgroups bool
}

// seccompUnconfined disables seccomp.
const seccompUnconfined = "unconfined"

// parseSecurityOpts parses --security-opt values as dockerd does. Keys are
// separated from values by "=" (or the deprecated ":"). AppArmor and SELinux
// label options are accepted and ignored: this host has neither.
func parseSecurityOpts(in []string) (securityOpts, error) {
	var so securityOpts
	for _, opt := range in {
		if opt == "no-new-privileges" {
			so.noNewPrivileges = true
			continue
		}
		if opt == "disable" { // SELinux label disable
			continue
		}
		var k, v string
		var ok bool
		if strings.Contains(opt, "=") {
			k, v, ok = strings.Cut(opt, "=")
		} else {
			k, v, ok = strings.Cut(opt, ":")
		}
		if !ok {
			return so, errSecurityOpt(1, opt)
		}
		switch k {
		case "label", "apparmor":
		case "seccomp":
			so.seccomp = v
		case "no-new-privileges":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return so, errSecurityOpt(2, opt)
			}
			so.noNewPrivileges = b
		case "writable-cgroups":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return so, errSecurityOpt(2, opt)
			}
			so.writableCgroups = b
		default:
			return so, errSecurityOpt(2, opt)
		}
	}
	return so, nil
}

// seccompProfile returns the seccomp filter for s (whose bounding
// capabilities must be final: the default profile allows syscalls by
// capability). Privileged containers and "unconfined" get none.
func seccompProfile(s *specs.Spec, profile string, privileged bool) (*specs.LinuxSeccomp, error) {
	if privileged || profile == seccompUnconfined {
		return nil, nil
	}
	if profile == "" || profile == "builtin" || profile == "default" {
		p, err := seccomp.GetDefaultProfile(s)
		if err != nil {
			return nil, fmt.Errorf("default seccomp profile: %w", err)
		}
		return p, nil
	}
	p, err := seccomp.LoadProfile(profile, s)
	if err != nil {
		return nil, errdefs.ErrInvalidArgument.WithMessage(err.Error())
	}
	return p, nil
}
