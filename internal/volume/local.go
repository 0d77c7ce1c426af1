package volume

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/docker/go-units"
	"golang.org/x/sys/unix"

	"berth/internal/log"
)

// LocalDriver is the name of the built-in driver.
const LocalDriver = "local"

// localNameRE is dockerd's rule for local volume names.
var localNameRE = regexp.MustCompile(`^` + restrictedNameChars + `+$`)

// local is the built-in driver: a directory <root>/<name>/_data, or a
// filesystem mounted there when the volume has type/device/o options.
type local struct {
	root string
	// lookupHost resolves an NFS/CIFS server name to addresses.
	lookupHost func(ctx context.Context, host string) ([]string, error)
}

var _ driver = (*local)(nil)

func (l *local) dataPath(name string) string { return filepath.Join(l.root, name, "_data") }

func (l *local) scope() string { return "local" }

// validateLocalName applies dockerd's local name rule.
func validateLocalName(name string) error {
	if len(name) > 255 || !localNameRE.MatchString(name) {
		return errInvalidName(name)
	}
	return nil
}

// validateLocalOptions checks opts as dockerd's local driver does: only
// type, o, device and size; device and type need each other and o needs
// both. A size needs quota support, which berth does not have. The o option
// must parse.
func validateLocalOptions(opts map[string]string) error {
	keys := make([]string, 0, len(opts))
	for k := range opts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		switch k {
		case "type", "o", "device", "size":
		default:
			return invalid("invalid option: %q", k)
		}
	}
	if v, ok := opts["size"]; ok {
		size, err := units.RAMInBytes(v)
		if err != nil {
			return invalid("%s", err.Error())
		}
		if size > 0 {
			return invalid("quota size requested but no quota support")
		}
	}
	required := [][2]string{{"device", "type"}, {"type", "device"}, {"o", "device"}, {"o", "type"}}
	for _, r := range required {
		if _, ok := opts[r[0]]; !ok {
			continue
		}
		if _, ok := opts[r[1]]; !ok {
			return invalid("missing required option: %q", r[1])
		}
	}
	if _, err := parseMountOptions(opts["o"]); err != nil {
		return err
	}
	return nil
}

// needsMount reports whether a volume with opts is a mounted filesystem
// rather than a plain directory.
func needsMount(opts map[string]string) bool { return opts["type"] != "" || opts["device"] != "" }

func (l *local) create(_ context.Context, name string, opts map[string]string) (string, error) {
	if err := validateLocalName(name); err != nil {
		return "", err
	}
	if err := validateLocalOptions(opts); err != nil {
		return "", err
	}
	if err := os.MkdirAll(l.root, 0o701); err != nil {
		return "", fmt.Errorf("create volume root: %w", err)
	}
	dir := filepath.Join(l.root, name)
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return "", fmt.Errorf("create volume directory: %w", err)
	}
	if err := os.Mkdir(l.dataPath(name), 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return "", fmt.Errorf("create volume directory: %w", err)
	}
	return l.dataPath(name), nil
}

func (l *local) remove(ctx context.Context, rec *record) error {
	data := l.dataPath(rec.Name)
	mounted, err := isMountPoint(data)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if mounted {
		if err := unmountPath(data); err != nil {
			return err
		}
		if still, err := isMountPoint(data); err != nil || still {
			// Never delete through a mount: it would erase the device's data.
			return fmt.Errorf("volume %s is still mounted at %s: %w", rec.Name, data, errdefs.ErrFailedPrecondition)
		}
	}
	if needsMount(rec.Options) {
		// The data lives on the device; what is left here is an empty mountpoint.
		if err := os.Remove(data); err != nil && !errors.Is(err, os.ErrNotExist) {
			log.From(ctx).Warn("volume mountpoint not empty after unmount", "volume", rec.Name, "err", err)
		}
	}
	if err := os.RemoveAll(filepath.Join(l.root, rec.Name)); err != nil {
		return fmt.Errorf("remove volume data: %w", err)
	}
	return nil
}

func (l *local) path(_ context.Context, rec *record) (string, error) {
	data := l.dataPath(rec.Name)
	if !needsMount(rec.Options) {
		return data, nil
	}
	mounted, err := isMountPoint(data)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	if !mounted {
		return "", nil
	}
	return data, nil
}

// mount makes the volume's data path ready: a plain directory is re-created
// if it went missing; a volume with options is mounted unless it already is
// (it may still be from before a daemon restart).
func (l *local) mount(ctx context.Context, rec *record, _ string) (string, error) {
	data := l.dataPath(rec.Name)
	if err := os.MkdirAll(data, 0o755); err != nil {
		return "", fmt.Errorf("create volume directory: %w", err)
	}
	if !needsMount(rec.Options) {
		return data, nil
	}
	mounted, err := isMountPoint(data)
	if err != nil {
		return "", err
	}
	if mounted {
		return data, nil
	}
	if err := l.mountDevice(ctx, rec.Options, data); err != nil {
		return "", err
	}
	return data, nil
}

// unmount unmounts the filesystem of a volume with options when its last
// user goes.
func (l *local) unmount(_ context.Context, rec *record, _ string, last bool) error {
	if !last || !needsMount(rec.Options) {
		return nil
	}
	return unmountPath(l.dataPath(rec.Name))
}

// mountDevice mounts opts' device at target like mount(8) -t TYPE -o O DEVICE.
func (l *local) mountDevice(ctx context.Context, opts map[string]string, target string) error {
	device, typ := opts["device"], opts["type"]
	if device == "" {
		return errors.New("missing device in volume options")
	}
	mo, err := parseMountOptions(opts["o"])
	if err != nil {
		return err
	}
	if typ == "nfs" || typ == "nfs4" || typ == "cifs" {
		if mo.Data, err = l.resolveAddr(ctx, mo.Data); err != nil {
			return err
		}
	}
	if typ == "none" && mo.Flags&unix.MS_BIND == 0 {
		return invalid("type none needs o=bind or o=rbind")
	}
	if err := mountFS(device, target, typ, mo); err != nil {
		return fmt.Errorf("failed to mount local volume: %s", redactPassword(err.Error(), opts["o"]))
	}
	return nil
}

// mountFS performs the mount(2) calls for mo: the mount itself, a remount
// for flags a bind mount ignores on its first call, and the propagation.
func mountFS(device, target, typ string, mo mountOptions) error {
	first := mo.Flags
	if mo.Flags&unix.MS_BIND != 0 {
		first = mo.Flags & (unix.MS_BIND | unix.MS_REC)
	}
	if err := unix.Mount(device, target, typ, first, mo.Data); err != nil {
		return fmt.Errorf("mount %s on %s (type %s, options %q): %w", device, target, typ, mo.Data, err)
	}
	undo := func() { _ = unix.Unmount(target, unix.MNT_DETACH) }
	if extra := mo.Flags &^ (unix.MS_BIND | unix.MS_REC); mo.Flags&unix.MS_BIND != 0 && extra != 0 {
		if err := unix.Mount("", target, "", unix.MS_REMOUNT|unix.MS_BIND|extra, ""); err != nil {
			undo()
			return fmt.Errorf("remount %s with flags %#x: %w", target, extra, err)
		}
	}
	if mo.Propagation != 0 {
		if err := unix.Mount("", target, "", mo.Propagation, ""); err != nil {
			undo()
			return fmt.Errorf("set propagation of %s: %w", target, err)
		}
	}
	return nil
}

// resolveAddr replaces a host name in the addr= option with an address,
// as dockerd does, because the kernel's NFS and CIFS clients need one.
func (l *local) resolveAddr(ctx context.Context, data string) (string, error) {
	host, ok := optionValue(data, "addr")
	if !ok || host == "" {
		return data, nil
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return data, nil
	}
	lookup := l.lookupHost
	if lookup == nil {
		lookup = net.DefaultResolver.LookupHost
	}
	addrs, err := lookup(ctx, host)
	if err == nil && len(addrs) == 0 {
		err = fmt.Errorf("no address for %s", host)
	}
	if err != nil {
		return "", &classError{msg: "error resolving passed in network volume address: " + err.Error(), class: errdefs.ErrInvalidArgument}
	}
	return strings.Replace(data, "addr="+host, "addr="+addrs[0], 1), nil
}

// redactPassword hides a password= value of o in msg.
func redactPassword(msg, o string) string {
	if pw, ok := optionValue(o, "password"); ok && pw != "" {
		msg = strings.ReplaceAll(msg, "password="+pw, "password=********")
	}
	return msg
}

// unmountPath detaches the mount at path; a path that is not a mount point
// (EINVAL) or is gone is not an error.
func unmountPath(path string) error {
	err := unix.Unmount(path, unix.MNT_DETACH)
	if err == nil || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
		return nil
	}
	return fmt.Errorf("unmount %s: %w", path, err)
}

// isMountPoint reports whether path is the root of a mount, from statx's
// STATX_ATTR_MOUNT_ROOT, or from /proc/self/mountinfo where statx does not say.
func isMountPoint(path string) (bool, error) {
	var stx unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, path, unix.AT_SYMLINK_NOFOLLOW, unix.STATX_BASIC_STATS, &stx); err != nil {
		return false, &os.PathError{Op: "statx", Path: path, Err: err}
	}
	if stx.Attributes_mask&unix.STATX_ATTR_MOUNT_ROOT != 0 {
		return stx.Attributes&unix.STATX_ATTR_MOUNT_ROOT != 0, nil
	}
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return false, err
	}
	clean := filepath.Clean(path)
	for line := range strings.SplitSeq(string(b), "\n") {
		fields := strings.Fields(line)
		if len(fields) > 4 && unescapeMountinfo(fields[4]) == clean {
			return true, nil
		}
	}
	return false, nil
}

// unescapeMountinfo decodes the octal escapes (\040 for a space) of mountinfo.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }
