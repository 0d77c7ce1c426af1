// Package logger is the contract between a container's output and its log
// drivers, and the one place that picks a driver by name.
//
// The shim turns the container's stdout/stderr into Messages and hands them
// to a Driver. Drivers live in subpackages (jsonfile) or here (None). The
// Message type itself lives in logger/logmsg so that drivers need not import
// this package (which imports them); Message here is an alias of it.
//
// Reading logs back (docker logs) is driver-specific: see jsonfile.Read.
package logger

import (
	"fmt"

	"github.com/containerd/errdefs"
	"github.com/docker/go-units"

	"berth/internal/logger/jsonfile"
	"berth/internal/logger/logmsg"
)

// Message is one chunk of a container's output; see logmsg.Message.
type Message = logmsg.Message

// Driver receives a container's output.
//
// Log must not retain m or m.Line after it returns. Drivers are safe for
// concurrent use. Close flushes and releases the driver; Log after Close
// returns an error. Errors from Log are I/O failures, not classified.
type Driver interface {
	Log(m *Message) error
	Close() error
}

// None is the "none" driver: it discards everything.
type None struct{}

// Log discards m.
func (None) Log(*Message) error { return nil }

// Close does nothing.
func (None) Close() error { return nil }

var (
	_ Driver = None{}
	_ Driver = (*jsonfile.Writer)(nil)
)

// Driver names accepted by New and ValidateOptions.
const (
	NameJSONFile = jsonfile.Name
	NameNone     = "none"
)

// New returns the driver named driver ("" means json-file) writing to path
// (ignored by none), configured by opts. It validates opts as ValidateOptions
// does. An unknown driver is errdefs.ErrInvalidArgument with dockerd's message
// "logger: no log driver named 'X' is registered".
func New(driver, path string, opts map[string]string) (Driver, error) {
	if err := ValidateOptions(driver, opts); err != nil {
		return nil, err
	}
	switch driver {
	case NameNone:
		return None{}, nil
	default: // "" or json-file, as ValidateOptions checked
		cfg, err := jsonfile.ParseOptions(driverOptions(opts))
		if err != nil {
			return nil, err
		}
		return jsonfile.New(path, cfg)
	}
}

// ValidateOptions checks --log-driver and --log-opt at container create, with
// dockerd's rules: the none driver takes any options; "mode" (blocking or
// non-blocking) and "max-buffer-size" (non-blocking only) are accepted for
// every other driver; the remaining keys must be the driver's own.
// Errors are errdefs.ErrInvalidArgument.
func ValidateOptions(driver string, opts map[string]string) error {
	if driver == NameNone {
		return nil
	}
	switch mode := opts["mode"]; mode {
	case "", "blocking", "non-blocking":
	default:
		return invalidf("logger: logging mode not supported: %s", mode)
	}
	if s, ok := opts["max-buffer-size"]; ok {
		if opts["mode"] != "non-blocking" {
			return invalidf("logger: max-buffer-size option is only supported with 'mode=non-blocking'")
		}
		if _, err := units.RAMInBytes(s); err != nil {
			return invalidf("error parsing option max-buffer-size: %s", err)
		}
	}
	switch driver {
	case "", NameJSONFile:
		_, err := jsonfile.ParseOptions(driverOptions(opts))
		return err
	default:
		return invalidf("logger: no log driver named '%s' is registered", driver)
	}
}

// driverOptions drops the options every driver shares.
func driverOptions(opts map[string]string) map[string]string {
	out := make(map[string]string, len(opts))
	for k, v := range opts {
		if k != "mode" && k != "max-buffer-size" {
			out[k] = v
		}
	}
	return out
}

// invalidError keeps dockerd's exact message while classifying the error as
// errdefs.ErrInvalidArgument.
type invalidError struct{ msg string }

func (e *invalidError) Error() string { return e.msg }
func (e *invalidError) Unwrap() error { return errdefs.ErrInvalidArgument }

func invalidf(format string, args ...any) error {
	return &invalidError{msg: fmt.Sprintf(format, args...)}
}
