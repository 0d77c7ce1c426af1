package cli

import (
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/mount"
)

// parseMount parses one --mount value (CSV of key=value fields) as Docker
// does; the type defaults to volume.
func parseMount(value string) (mount.Mount, error) {
	r := csv.NewReader(strings.NewReader(value))
	fields, err := r.Read()
	if err != nil {
		return mount.Mount{}, fmt.Errorf("invalid mount %q: %w", value, err)
	}
	m := mount.Mount{Type: mount.TypeVolume}
	bindOpts := func() *mount.BindOptions {
		if m.BindOptions == nil {
			m.BindOptions = &mount.BindOptions{}
		}
		return m.BindOptions
	}
	volOpts := func() *mount.VolumeOptions {
		if m.VolumeOptions == nil {
			m.VolumeOptions = &mount.VolumeOptions{}
		}
		return m.VolumeOptions
	}
	tmpfsOpts := func() *mount.TmpfsOptions {
		if m.TmpfsOptions == nil {
			m.TmpfsOptions = &mount.TmpfsOptions{}
		}
		return m.TmpfsOptions
	}
	for _, field := range fields {
		key, val, ok := strings.Cut(field, "=")
		key = strings.ToLower(key)
		if !ok {
			switch key {
			case "readonly", "ro":
				m.ReadOnly = true
			case "volume-nocopy":
				volOpts().NoCopy = true
			case "bind-nonrecursive":
				bindOpts().NonRecursive = true
			default:
				return mount.Mount{}, fmt.Errorf("invalid field '%s' must be a key=value pair", field)
			}
			continue
		}
		switch key {
		case "type":
			m.Type = mount.Type(strings.ToLower(val))
		case "source", "src":
			m.Source = val
			if val == "." || strings.HasPrefix(val, "./") {
				if abs, err := filepath.Abs(val); err == nil {
					m.Source = abs
				}
			}
		case "target", "dst", "destination":
			m.Target = val
		case "readonly", "ro":
			b, err := strconv.ParseBool(val)
			if err != nil {
				return mount.Mount{}, fmt.Errorf("invalid value for %s: %s", key, val)
			}
			m.ReadOnly = b
		case "consistency":
			m.Consistency = mount.Consistency(strings.ToLower(val))
		case "bind-propagation":
			bindOpts().Propagation = mount.Propagation(strings.ToLower(val))
		case "bind-nonrecursive":
			b, err := strconv.ParseBool(val)
			if err != nil {
				return mount.Mount{}, fmt.Errorf("invalid value for %s: %s", key, val)
			}
			bindOpts().NonRecursive = b
		case "bind-recursive":
			switch val {
			case "enabled":
			case "disabled":
				bindOpts().NonRecursive = true
			case "writable":
				bindOpts().ReadOnlyNonRecursive = true
			case "readonly":
				bindOpts().ReadOnlyForceRecursive = true
			default:
				return mount.Mount{}, fmt.Errorf(`invalid value for %s: %s (must be "enabled", "disabled", "writable", or "readonly")`, key, val)
			}
		case "bind-create-src":
			b, err := strconv.ParseBool(val)
			if err != nil {
				return mount.Mount{}, fmt.Errorf("invalid value for %s: %s", key, val)
			}
			bindOpts().CreateMountpoint = b
		case "volume-nocopy":
			b, err := strconv.ParseBool(val)
			if err != nil {
				return mount.Mount{}, fmt.Errorf("invalid value for volume-nocopy: %s", val)
			}
			volOpts().NoCopy = b
		case "volume-label":
			if volOpts().Labels == nil {
				volOpts().Labels = map[string]string{}
			}
			k, v, _ := strings.Cut(val, "=")
			volOpts().Labels[k] = v
		case "volume-driver":
			if volOpts().DriverConfig == nil {
				volOpts().DriverConfig = &mount.Driver{}
			}
			volOpts().DriverConfig.Name = val
		case "volume-opt":
			if volOpts().DriverConfig == nil {
				volOpts().DriverConfig = &mount.Driver{}
			}
			if volOpts().DriverConfig.Options == nil {
				volOpts().DriverConfig.Options = map[string]string{}
			}
			k, v, _ := strings.Cut(val, "=")
			volOpts().DriverConfig.Options[k] = v
		case "volume-subpath":
			volOpts().Subpath = val
		case "tmpfs-size":
			n, err := units.RAMInBytes(val)
			if err != nil {
				return mount.Mount{}, fmt.Errorf("invalid value for %s: %s", key, val)
			}
			tmpfsOpts().SizeBytes = n
		case "tmpfs-mode":
			n, err := strconv.ParseUint(val, 8, 32)
			if err != nil {
				return mount.Mount{}, fmt.Errorf("invalid value for %s: %s", key, val)
			}
			tmpfsOpts().Mode = os.FileMode(n)
		case "image-subpath":
			if m.ImageOptions == nil {
				m.ImageOptions = &mount.ImageOptions{}
			}
			m.ImageOptions.Subpath = val
		default:
			return mount.Mount{}, fmt.Errorf("unexpected key '%s' in '%s'", key, field)
		}
	}
	if m.Type == "" {
		return mount.Mount{}, errors.New("type is required")
	}
	if m.Target == "" {
		return mount.Mount{}, errors.New("target is required")
	}
	if m.VolumeOptions != nil && m.Type != mount.TypeVolume {
		return mount.Mount{}, fmt.Errorf("cannot mix 'volume-*' options with mount type '%s'", m.Type)
	}
	if m.BindOptions != nil && m.Type != mount.TypeBind {
		return mount.Mount{}, fmt.Errorf("cannot mix 'bind-*' options with mount type '%s'", m.Type)
	}
	if m.TmpfsOptions != nil && m.Type != mount.TypeTmpfs {
		return mount.Mount{}, fmt.Errorf("cannot mix 'tmpfs-*' options with mount type '%s'", m.Type)
	}
	if m.ImageOptions != nil && m.Type != mount.TypeImage {
		return mount.Mount{}, fmt.Errorf("cannot mix 'image-*' options with mount type '%s'", m.Type)
	}
	return m, nil
}

// volumeSpec is a parsed -v/--volume value.
type volumeSpec struct {
	source, target, mode string
}

// isBind reports whether the source is a host path rather than a volume name.
func (v volumeSpec) isBind() bool {
	return strings.HasPrefix(v.source, "/") || strings.HasPrefix(v.source, ".") || strings.HasPrefix(v.source, "~")
}

// parseVolume splits a -v value into [source:]target[:mode].
func parseVolume(spec string) (volumeSpec, error) {
	if spec == "" {
		return volumeSpec{}, errors.New("invalid empty volume spec")
	}
	parts := strings.Split(spec, ":")
	for _, p := range parts {
		if p == "" {
			return volumeSpec{}, fmt.Errorf("invalid spec: %s: empty section between colons", spec)
		}
	}
	switch len(parts) {
	case 1:
		return volumeSpec{target: parts[0]}, nil
	case 2:
		return volumeSpec{source: parts[0], target: parts[1]}, nil
	case 3:
		return volumeSpec{source: parts[0], target: parts[1], mode: parts[2]}, nil
	}
	return volumeSpec{}, fmt.Errorf("invalid spec: %s: too many colons", spec)
}
