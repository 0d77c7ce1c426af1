package spec

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// errNotADevice marks a path that is not a device node.
var errNotADevice = errors.New("not a device node")

// deviceFromPath describes the device node at p (not following a final
// symlink), with the container path set to p.
func deviceFromPath(p string) (specs.LinuxDevice, error) {
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return specs.LinuxDevice{}, &os.PathError{Op: "lstat", Path: p, Err: err}
	}
	var typ string
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFCHR:
		typ = "c"
	case unix.S_IFBLK:
		typ = "b"
	default:
		return specs.LinuxDevice{}, errNotADevice
	}
	rdev := uint64(st.Rdev) // Rdev is uint32 on some architectures
	return specs.LinuxDevice{
		Path:     p,
		Type:     typ,
		Major:    int64(unix.Major(rdev)),
		Minor:    int64(unix.Minor(rdev)),
		FileMode: ptr(os.FileMode(st.Mode &^ unix.S_IFMT)),
		UID:      ptr(st.Uid),
		GID:      ptr(st.Gid),
	}, nil
}

// hostDevices lists the device nodes under /dev for a privileged container,
// skipping the directories runc mounts itself (pts, shm, mqueue), fd, the
// lxc/lxd/udev private directories and /dev/console, as containerd does.
func hostDevices() ([]specs.LinuxDevice, error) {
	return devicesUnder("/dev")
}

func devicesUnder(dir string) ([]specs.LinuxDevice, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []specs.LinuxDevice
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		if e.IsDir() {
			switch e.Name() {
			case "pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev":
				continue
			}
			sub, err := devicesUnder(p)
			if err != nil {
				return nil, err
			}
			out = append(out, sub...)
			continue
		}
		if e.Name() == "console" {
			continue
		}
		d, err := deviceFromPath(p)
		if errors.Is(err, errNotADevice) || errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// devicesFromMapping resolves a --device mapping: a device node, or a
// directory whose device nodes are all mapped below PathInContainer.
func devicesFromMapping(hostPath, ctrPath, perms string) ([]specs.LinuxDevice, []specs.LinuxDeviceCgroup, error) {
	if ctrPath == "" {
		ctrPath = hostPath
	}
	if perms == "" {
		perms = "rwm"
	}
	if !validAccess(perms) {
		return nil, nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid device mode: %s", perms))
	}
	resolved := hostPath
	if fi, err := os.Lstat(hostPath); err == nil && fi.Mode()&os.ModeSymlink != 0 {
		if r, err := filepath.EvalSymlinks(hostPath); err == nil {
			resolved = r
		}
	}
	rule := func(d specs.LinuxDevice) specs.LinuxDeviceCgroup {
		return specs.LinuxDeviceCgroup{Allow: true, Type: d.Type, Major: ptr(d.Major), Minor: ptr(d.Minor), Access: perms}
	}
	d, err := deviceFromPath(resolved)
	if err == nil {
		d.Path = ctrPath
		return []specs.LinuxDevice{d}, []specs.LinuxDeviceCgroup{rule(d)}, nil
	}
	var devs []specs.LinuxDevice
	var rules []specs.LinuxDeviceCgroup
	if errors.Is(err, errNotADevice) {
		if fi, serr := os.Stat(resolved); serr == nil && fi.IsDir() {
			_ = filepath.WalkDir(resolved, func(p string, _ fs.DirEntry, _ error) error {
				cd, e := deviceFromPath(p)
				if e != nil {
					return nil
				}
				cd.Path = strings.Replace(p, resolved, ctrPath, 1)
				devs = append(devs, cd)
				rules = append(rules, rule(cd))
				return nil
			})
		}
	}
	if len(devs) > 0 {
		return devs, rules, nil
	}
	return nil, nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("error gathering device information while adding custom device %q: %s", hostPath, err))
}
