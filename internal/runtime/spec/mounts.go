package spec

import (
	"errors"
	"fmt"
	"os"
	"path"
	"slices"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/mount"
	"github.com/opencontainers/runtime-spec/specs-go"
)

// defaultPropagation is dockerd's propagation for bind mounts without one.
const defaultPropagation = "rprivate"

// bindMount is a bind mount requested by the user, before it becomes a
// specs.Mount.
type bindMount struct {
	source, target string
	readOnly       bool
	propagation    string // "" means defaultPropagation
	nonRecursive   bool
	roNonRecursive bool // ReadOnlyNonRecursive: plain "ro", never "rro"
	forceRecursive bool // ReadOnlyForceRecursive: "rro" or fail
	createSource   bool // create a missing source directory (-v, CreateMountpoint)
}

// -v mode words, by kind; each kind may appear once.
func bindModeKind(word string) string {
	switch word {
	case "rw", "ro":
		return "rw"
	case "z", "Z":
		return "label"
	case "private", "rprivate", "shared", "rshared", "slave", "rslave":
		return "propagation"
	case "nocopy":
		return "copy"
	case "consistent", "cached", "delegated":
		return "consistency"
	}
	return ""
}

// validBindMode reports whether mode is a valid -v mode list such as
// "ro,z,rshared".
func validBindMode(mode string) bool {
	if mode == "" {
		return true
	}
	seen := map[string]bool{}
	for w := range strings.SplitSeq(mode, ",") {
		k := bindModeKind(w)
		if k == "" || seen[k] {
			return false
		}
		seen[k] = true
	}
	return true
}

// parseBind parses one HostConfig.Binds entry ("src:dst[:mode]") the way
// dockerd's Linux volume parser does. A source that is not an absolute path
// names a volume and gives errdefs.ErrNotImplemented; syntax errors are
// errdefs.ErrInvalidArgument with dockerd's message.
func parseBind(raw string) (bindMount, error) {
	arr := strings.SplitN(raw, ":", 4)
	if arr[0] == "" {
		return bindMount{}, errInvalidSpec(raw, nil)
	}
	var src, dst, mode string
	switch len(arr) {
	case 1:
		return bindMount{}, fmt.Errorf("anonymous volume %q: volumes are not supported yet: %w", raw, errdefs.ErrNotImplemented)
	case 2:
		if validBindMode(arr[1]) {
			return bindMount{}, errInvalidSpec(raw, nil)
		}
		src, dst = arr[0], arr[1]
	case 3:
		src, dst, mode = arr[0], arr[1], arr[2]
	default:
		return bindMount{}, errInvalidSpec(raw, nil)
	}
	if !validBindMode(mode) {
		return bindMount{}, errInvalidMode(mode)
	}
	if !path.IsAbs(src) {
		return bindMount{}, fmt.Errorf("volume %q in %q: volumes are not supported yet: %w", src, raw, errdefs.ErrNotImplemented)
	}
	b := bindMount{source: path.Clean(src), target: dst, createSource: true}
	for w := range strings.SplitSeq(mode, ",") {
		switch bindModeKind(w) {
		case "rw":
			b.readOnly = w == "ro"
		case "propagation":
			b.propagation = w
		case "copy":
			// dockerd turns nocopy into volume options, which a bind
			// mount refuses.
			return bindMount{}, errInvalidSpec(raw, errors.New(`invalid mount config for type "bind": `+msgExtraField("VolumeOptions")))
		}
	}
	if cause := validateTarget(dst); cause != "" {
		return bindMount{}, errInvalidSpec(raw, errors.New(`invalid mount config for type "bind": `+cause))
	}
	b.target = path.Clean(dst)
	return b, nil
}

// validateTarget returns dockerd's complaint about a mount destination, or "".
func validateTarget(dst string) string {
	if dst == "" {
		return msgMissingField("Target")
	}
	if path.Clean(dst) == "/" {
		return msgTargetIsRoot
	}
	if !path.IsAbs(dst) {
		return msgNotAbsolute(dst)
	}
	return ""
}

// apiMount turns one HostConfig.Mounts entry of type bind or tmpfs into
// either a bind or a tmpfs mount (exactly one is set). Volume, image and
// cluster mounts are errdefs.ErrNotImplemented.
func apiMount(m mount.Mount) (*bindMount, *specs.Mount, error) {
	typ := string(m.Type)
	if cause := validateTarget(m.Target); cause != "" {
		return nil, nil, errMountConfig(typ, cause)
	}
	switch m.Type {
	case mount.TypeBind:
		switch {
		case m.Source == "":
			return nil, nil, errMountConfig(typ, msgMissingField("Source"))
		case m.VolumeOptions != nil:
			return nil, nil, errMountConfig(typ, msgExtraField("VolumeOptions"))
		case m.ImageOptions != nil:
			return nil, nil, errMountConfig(typ, msgExtraField("ImageOptions"))
		case m.TmpfsOptions != nil:
			return nil, nil, errMountConfig(typ, msgExtraField("TmpfsOptions"))
		case !path.IsAbs(m.Source):
			return nil, nil, errMountConfig(typ, msgNotAbsolute(m.Source))
		}
		b := &bindMount{source: path.Clean(m.Source), target: path.Clean(m.Target), readOnly: m.ReadOnly}
		if o := m.BindOptions; o != nil {
			if o.Propagation != "" {
				if bindModeKind(string(o.Propagation)) != "propagation" {
					return nil, nil, errMountConfig(typ, fmt.Sprintf("invalid propagation mode: %s", o.Propagation))
				}
				b.propagation = string(o.Propagation)
			}
			b.nonRecursive = o.NonRecursive
			b.roNonRecursive = o.ReadOnlyNonRecursive
			b.forceRecursive = o.ReadOnlyForceRecursive
			b.createSource = o.CreateMountpoint
		}
		if !b.createSource {
			if _, err := os.Stat(b.source); err != nil {
				if errors.Is(err, os.ErrNotExist) {
					return nil, nil, errMountConfig(typ, msgBindSourceMissing(b.source))
				}
				return nil, nil, errMountConfig(typ, err.Error())
			}
		}
		return b, nil, nil
	case mount.TypeTmpfs:
		switch {
		case m.BindOptions != nil:
			return nil, nil, errMountConfig(typ, msgExtraField("BindOptions"))
		case m.VolumeOptions != nil:
			return nil, nil, errMountConfig(typ, msgExtraField("VolumeOptions"))
		case m.ImageOptions != nil:
			return nil, nil, errMountConfig(typ, msgExtraField("ImageOptions"))
		case m.Source != "":
			return nil, nil, errMountConfig(typ, msgExtraField("Source"))
		}
		data, err := tmpfsData(m.TmpfsOptions, m.ReadOnly)
		if err != nil {
			return nil, nil, errMountConfig(typ, err.Error())
		}
		t, err := tmpfsMount(m.Target, data)
		if err != nil {
			return nil, nil, err
		}
		return nil, &t, nil
	case mount.TypeVolume, mount.TypeImage, mount.TypeCluster:
		return nil, nil, fmt.Errorf("mount of type %q on %s: not supported yet: %w", typ, m.Target, errdefs.ErrNotImplemented)
	}
	return nil, nil, errMountConfig(typ, "mount type unknown")
}

// tmpfsData renders TmpfsOptions as the comma-separated data dockerd builds:
// ro, mode in octal, size with the largest exact g/m/k suffix, then the
// extra options (only exec and noexec are allowed).
func tmpfsData(o *mount.TmpfsOptions, readOnly bool) (string, error) {
	var opts []string
	if readOnly {
		opts = append(opts, "ro")
	}
	if o == nil {
		return strings.Join(opts, ","), nil
	}
	if o.Mode != 0 {
		opts = append(opts, fmt.Sprintf("mode=%o", uint32(o.Mode)))
	}
	if o.SizeBytes != 0 {
		size, suffix := o.SizeBytes, ""
		for _, u := range []struct {
			s string
			d int64
		}{{"g", 1 << 30}, {"m", 1 << 20}, {"k", 1 << 10}} {
			if size%u.d == 0 {
				size, suffix = size/u.d, u.s
				break
			}
		}
		opts = append(opts, fmt.Sprintf("size=%d%s", size, suffix))
	}
	for _, opt := range o.Options {
		if len(opt) < 1 || len(opt) > 2 {
			return "", errors.New("invalid option array length")
		}
		if opt[0] != "exec" && opt[0] != "noexec" {
			return "", errors.New("invalid option: " + opt[0])
		}
		if len(opt) == 1 {
			opts = append(opts, opt[0])
		} else {
			opts = append(opts, opt[0]+"="+opt[1])
		}
	}
	return strings.Join(opts, ","), nil
}

// tmpfsMount builds a tmpfs mount at dst with dockerd's defaults (noexec,
// nosuid, nodev, rprivate) overridden by data ("size=64m,mode=755,exec").
func tmpfsMount(dst, data string) (specs.Mount, error) {
	if cause := validateTarget(dst); cause != "" {
		return specs.Mount{}, errMountConfig("tmpfs", cause)
	}
	opts := []string{"noexec", "nosuid", "nodev", defaultPropagation}
	if data != "" {
		opts = append(opts, strings.Split(data, ",")...)
	}
	merged, err := mergeTmpfsOptions(opts)
	if err != nil {
		return specs.Mount{}, errdefs.ErrInvalidArgument.WithMessage(err.Error())
	}
	return specs.Mount{Destination: path.Clean(dst), Type: "tmpfs", Source: "tmpfs", Options: merged}, nil
}

// mountFlagGroup returns the group of a mount flag word: words of one group
// override each other (exec vs noexec, all propagation modes). "" means the
// word is not a flag.
func mountFlagGroup(word string) string {
	switch word {
	case "ro", "rw":
		return "rdonly"
	case "suid", "nosuid":
		return "nosuid"
	case "dev", "nodev":
		return "nodev"
	case "exec", "noexec":
		return "noexec"
	case "sync", "async":
		return "sync"
	case "mand", "nomand":
		return "mand"
	case "atime", "noatime":
		return "noatime"
	case "diratime", "nodiratime":
		return "nodiratime"
	case "relatime", "norelatime":
		return "relatime"
	case "strictatime", "nostrictatime":
		return "strictatime"
	case "dirsync", "remount", "bind", "rbind":
		return word
	case "private", "rprivate", "shared", "rshared", "slave", "rslave", "unbindable", "runbindable":
		return "propagation"
	}
	return ""
}

// mergeTmpfsOptions drops options overridden by a later one, keeping the
// order of the survivors, as moby/sys/mount.MergeTmpfsOptions does. Data
// options other than size, mode, uid, gid, nr_inodes, nr_blocks and mpol
// are refused.
func mergeTmpfsOptions(options []string) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	for i := len(options) - 1; i >= 0; i-- {
		opt := options[i]
		if opt == "defaults" {
			continue
		}
		key := mountFlagGroup(opt)
		if key == "" {
			k, _, ok := strings.Cut(opt, "=")
			switch k {
			case "size", "mode", "uid", "gid", "nr_inodes", "nr_blocks", "mpol":
			default:
				ok = false
			}
			if !ok {
				return nil, fmt.Errorf("invalid tmpfs option %q", strings.SplitN(opt, "=", 2))
			}
			key = "=" + k
		}
		if !seen[key] {
			seen[key] = true
			out = append(out, opt)
		}
	}
	slices.Reverse(out)
	return out, nil
}

// specMount turns a bind into the spec mount dockerd generates:
// [r]bind, ro (and rro where supported), propagation.
func (b bindMount) specMount(recursiveRO bool) (specs.Mount, error) {
	opts := []string{"rbind"}
	if b.nonRecursive {
		opts[0] = "bind"
	}
	if b.readOnly {
		opts = append(opts, "ro")
		switch {
		case b.roNonRecursive:
		case b.forceRecursive && !recursiveRO:
			return specs.Mount{}, fmt.Errorf("bind mount %s: recursively read-only mounts need Linux 5.12 or later: %w", b.target, errdefs.ErrFailedPrecondition)
		case recursiveRO && !b.nonRecursive:
			opts = append(opts, "rro")
		}
	}
	prop := b.propagation
	if prop == "" {
		prop = defaultPropagation
	}
	opts = append(opts, prop)
	return specs.Mount{Destination: b.target, Type: "bind", Source: b.source, Options: opts}, nil
}

// mountDepth is the number of path elements of a destination; dockerd sorts
// user mounts by it so that parents are mounted before children.
func mountDepth(dst string) int {
	return len(strings.Split(path.Clean(dst), "/"))
}
