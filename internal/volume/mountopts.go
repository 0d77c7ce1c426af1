package volume

import (
	"strings"

	"golang.org/x/sys/unix"
)

// maxMountData is the kernel's limit on mount(2) data: one page, NUL included.
const maxMountData = 4095

// mountOptions is a local volume's "o" option split the way mount(8) splits
// it: generic options become mount(2) flags, propagation options a separate
// flag set (they need their own mount(2) call), userspace-only options are
// dropped, and the rest is the filesystem's data string.
type mountOptions struct {
	// Flags are the MS_* flags to mount with.
	Flags uintptr
	// Propagation is MS_SHARED, MS_PRIVATE, MS_SLAVE or MS_UNBINDABLE,
	// with MS_REC for the r* forms; 0 when none was given.
	Propagation uintptr
	// Data is the filesystem-specific options, comma-separated, in order.
	Data string
}

// optKind says what a generic option does.
type optKind int

const (
	optData      optKind = iota // not generic: passed to the filesystem
	optSet                      // sets flag
	optClear                    // clears flag
	optPropagate                // sets the propagation
	optIgnore                   // userspace-only: dropped, as mount(8) does not pass it
)

// lookupOption classifies one option name as mount(8) and libmount do.
func lookupOption(name string) (optKind, uintptr) {
	switch name {
	case "ro":
		return optSet, unix.MS_RDONLY
	case "rw":
		return optClear, unix.MS_RDONLY
	case "nosuid":
		return optSet, unix.MS_NOSUID
	case "suid":
		return optClear, unix.MS_NOSUID
	case "nodev":
		return optSet, unix.MS_NODEV
	case "dev":
		return optClear, unix.MS_NODEV
	case "noexec":
		return optSet, unix.MS_NOEXEC
	case "exec":
		return optClear, unix.MS_NOEXEC
	case "sync":
		return optSet, unix.MS_SYNCHRONOUS
	case "async":
		return optClear, unix.MS_SYNCHRONOUS
	case "dirsync":
		return optSet, unix.MS_DIRSYNC
	case "remount":
		return optSet, unix.MS_REMOUNT
	case "mand":
		return optSet, unix.MS_MANDLOCK
	case "nomand":
		return optClear, unix.MS_MANDLOCK
	case "noatime":
		return optSet, unix.MS_NOATIME
	case "atime":
		return optClear, unix.MS_NOATIME
	case "nodiratime":
		return optSet, unix.MS_NODIRATIME
	case "diratime":
		return optClear, unix.MS_NODIRATIME
	case "relatime":
		return optSet, unix.MS_RELATIME
	case "norelatime":
		return optClear, unix.MS_RELATIME
	case "strictatime":
		return optSet, unix.MS_STRICTATIME
	case "nostrictatime":
		return optClear, unix.MS_STRICTATIME
	case "lazytime":
		return optSet, unix.MS_LAZYTIME
	case "nolazytime":
		return optClear, unix.MS_LAZYTIME
	case "silent":
		return optSet, unix.MS_SILENT
	case "loud":
		return optClear, unix.MS_SILENT
	case "bind":
		return optSet, unix.MS_BIND
	case "rbind":
		return optSet, unix.MS_BIND | unix.MS_REC
	case "shared":
		return optPropagate, unix.MS_SHARED
	case "rshared":
		return optPropagate, unix.MS_SHARED | unix.MS_REC
	case "private":
		return optPropagate, unix.MS_PRIVATE
	case "rprivate":
		return optPropagate, unix.MS_PRIVATE | unix.MS_REC
	case "slave":
		return optPropagate, unix.MS_SLAVE
	case "rslave":
		return optPropagate, unix.MS_SLAVE | unix.MS_REC
	case "unbindable":
		return optPropagate, unix.MS_UNBINDABLE
	case "runbindable":
		return optPropagate, unix.MS_UNBINDABLE | unix.MS_REC
	case "defaults", "auto", "noauto", "user", "nouser", "users", "owner", "group", "nofail", "_netdev":
		return optIgnore, 0
	}
	if strings.HasPrefix(name, "x-") || strings.HasPrefix(name, "comment=") {
		return optIgnore, 0
	}
	return optData, 0
}

// parseMountOptions splits o at commas outside double quotes (libmount lets
// a quoted value such as context="a,b" hold commas), skips empty elements,
// and classifies each one. It rejects a NUL byte, an unterminated quote and
// data longer than the kernel accepts, all as errdefs.ErrInvalidArgument.
func parseMountOptions(o string) (mountOptions, error) {
	var mo mountOptions
	if strings.IndexByte(o, 0) >= 0 {
		return mo, invalid("invalid mount options %q: NUL byte", o)
	}
	var data []string
	dataLen := 0
	start, quoted := 0, false
	for i := 0; i <= len(o); i++ {
		if i < len(o) {
			switch o[i] {
			case '"':
				quoted = !quoted
				continue
			case ',':
				if quoted {
					continue
				}
			default:
				continue
			}
		}
		elem := o[start:i]
		start = i + 1
		if elem == "" {
			continue
		}
		kind, flag := lookupOption(elem)
		switch kind {
		case optSet:
			mo.Flags |= flag
		case optClear:
			mo.Flags &^= flag
		case optPropagate:
			mo.Propagation = flag
		case optData:
			if len(data) > 0 {
				dataLen++
			}
			dataLen += len(elem)
			if dataLen > maxMountData {
				return mountOptions{}, invalid("invalid mount options: filesystem options longer than %d bytes", maxMountData)
			}
			data = append(data, elem)
		}
	}
	if quoted {
		return mountOptions{}, invalid("invalid mount options %q: unterminated quote", o)
	}
	mo.Data = strings.Join(data, ",")
	return mo, nil
}

// optionValue returns the value of key=value in a comma-separated option
// string, and whether it was present (the last occurrence wins, as in the
// kernel's parsers).
func optionValue(o, key string) (string, bool) {
	val, found := "", false
	for elem := range strings.SplitSeq(o, ",") {
		if k, v, ok := strings.Cut(elem, "="); ok && k == key {
			val, found = v, true
		}
	}
	return val, found
}
