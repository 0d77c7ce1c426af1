package jsonfile

import (
	"fmt"
	"strconv"

	"github.com/containerd/errdefs"
	"github.com/docker/go-units"
)

// Name is the driver's name in --log-driver and HostConfig.LogConfig.Type.
const Name = "json-file"

// Defaults applied when max-size is not set: berth bounds every container's
// log, unlike dockerd, whose unbounded default fills disks (moby#37471).
const (
	DefaultMaxSize = 20 * 1024 * 1024
	DefaultMaxFile = 5
)

// Config is the json-file driver's rotation policy.
type Config struct {
	// MaxSize is the size in bytes at which the current file is rotated;
	// negative means unlimited (no rotation).
	MaxSize int64
	// MaxFile is how many files, the current one included, are kept (≥ 1).
	MaxFile int
	// Compress is accepted for compatibility but rotated files are not
	// compressed yet; readers see plain files either way.
	Compress bool
}

// DefaultConfig returns the bounded default: 20 MiB per file, 5 files.
func DefaultConfig() Config {
	return Config{MaxSize: DefaultMaxSize, MaxFile: DefaultMaxFile}
}

// Validate checks c without changing it. Errors are errdefs.ErrInvalidArgument.
func (c Config) Validate() error {
	if c.MaxSize == 0 {
		return invalidf("max-size must be a positive number")
	}
	if c.MaxFile < 1 {
		return invalidf("max-file cannot be less than 1")
	}
	if c.Compress && (c.MaxFile < 2 || c.MaxSize < 0) {
		return invalidf("compress cannot be true when max-file is less than 2 or max-size is not set")
	}
	return nil
}

// ValidateOptions rejects keys the json-file driver does not know, with
// dockerd's message "unknown log opt 'KEY' for json-file log driver".
// labels, labels-regex, env, env-regex and tag are accepted (and, for now,
// not written as "attrs").
func ValidateOptions(opts map[string]string) error {
	for key := range opts {
		switch key {
		case "max-size", "max-file", "compress", "labels", "labels-regex", "env", "env-regex", "tag":
		default:
			return invalidf("unknown log opt '%s' for %s log driver", key, Name)
		}
	}
	return nil
}

// ParseOptions turns --log-opt values into a Config, with dockerd's rules and
// messages (errdefs.ErrInvalidArgument):
//
//   - max-size: a size with an optional k/m/g unit in SI units as dockerd's
//     json-file driver reads it ("10m" = 10,000,000 bytes); must be positive,
//     except berth's "-1" for unlimited;
//   - max-file: an integer ≥ 1;
//   - compress: a boolean; true needs max-file ≥ 2 and a size limit.
//
// When max-size is not given the size is DefaultMaxSize, and max-file
// defaults to DefaultMaxFile; when max-size is given max-file defaults to 1,
// as in dockerd.
func ParseOptions(opts map[string]string) (Config, error) {
	if err := ValidateOptions(opts); err != nil {
		return Config{}, err
	}
	cfg := DefaultConfig()
	if v, ok := opts["max-size"]; ok {
		cfg.MaxFile = 1
		if v == "-1" {
			cfg.MaxSize = -1
		} else {
			n, err := units.FromHumanSize(v)
			if err != nil {
				return Config{}, invalidf("%s", err)
			}
			if n <= 0 {
				return Config{}, invalidf("max-size must be a positive number")
			}
			cfg.MaxSize = n
		}
	}
	if v, ok := opts["max-file"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			return Config{}, invalidf("%s", err)
		}
		if n < 1 {
			return Config{}, invalidf("max-file cannot be less than 1")
		}
		cfg.MaxFile = n
	}
	if v, ok := opts["compress"]; ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return Config{}, invalidf("%s", err)
		}
		cfg.Compress = b
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// invalidError keeps dockerd's exact message while classifying the error as
// errdefs.ErrInvalidArgument.
type invalidError struct{ msg string }

func (e *invalidError) Error() string { return e.msg }
func (e *invalidError) Unwrap() error { return errdefs.ErrInvalidArgument }

func invalidf(format string, args ...any) error {
	return &invalidError{msg: fmt.Sprintf(format, args...)}
}
