package shim

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"berth/internal/runtime/oci"
)

// Config is what berthd hands a shim, as a JSON file.
type Config struct {
	// ID is the runtime's container ID; for an exec it is the container it runs in.
	ID string `json:"id"`
	// Runtime is the OCI runtime to drive.
	Runtime oci.Runtime `json:"runtime"`
	// Bundle holds config.json and rootfs (init only).
	Bundle string `json:"bundle,omitempty"`
	// StateDir holds exit.json, the pid file and the shim's own log.
	StateDir string `json:"stateDir"`
	// Socket is the unix socket the shim serves.
	Socket string `json:"socket"`
	// StartNow starts a container's process at once (one `runc run
	// --detach`) instead of waiting for "start": for starts nobody attaches to.
	StartNow bool `json:"startNow,omitempty"`
	// AttachWait is how many clients will attach right after the shim is
	// ready: output is not read until they did (at most a few seconds), so
	// a process started at once loses none of it.
	AttachWait int `json:"attachWait,omitempty"`
	// ExecProcess, when set, makes this an exec shim for the OCI process file.
	ExecProcess string `json:"execProcess,omitempty"`
	// Tty allocates a pseudo-terminal for the process.
	Tty bool `json:"tty,omitempty"`
	// OpenStdin keeps a stdin pipe open for attached clients.
	OpenStdin bool `json:"openStdin,omitempty"`
	// StdinOnce closes the process's stdin when the first attached client's stdin ends.
	StdinOnce bool `json:"stdinOnce,omitempty"`
	// CgroupPath is the container's cgroup below each hierarchy's root, to
	// tell an OOM kill from other deaths.
	CgroupPath string `json:"cgroupPath,omitempty"`
	// LogDriver, LogPath and LogOpts choose where output is recorded.
	LogDriver string            `json:"logDriver,omitempty"`
	LogPath   string            `json:"logPath,omitempty"`
	LogOpts   map[string]string `json:"logOpts,omitempty"`
}

// Exit is how a process ended.
type Exit struct {
	Pid        int       `json:"pid"`
	ExitCode   int       `json:"exitCode"`
	FinishedAt time.Time `json:"finishedAt"`
	OOMKilled  bool      `json:"oomKilled,omitempty"`
	// Error is set when the process could not be started.
	Error string `json:"error,omitempty"`
}

type request struct {
	Op     string `json:"op"`
	Stdin  bool   `json:"stdin,omitempty"`
	Stdout bool   `json:"stdout,omitempty"`
	Stderr bool   `json:"stderr,omitempty"`
	Height uint16 `json:"height,omitempty"`
	Width  uint16 `json:"width,omitempty"`
	Signal int    `json:"signal,omitempty"`
}

type reply struct {
	Pid   int    `json:"pid,omitempty"`
	Error string `json:"error,omitempty"`
	Exit  *Exit  `json:"exit,omitempty"`
}

// ExitFile is the name of the exit record in a shim's state directory.
const ExitFile = "exit.json"

// lockFile is held (flock) by a shim for its whole life.
const lockFile = "shim.lock"

// ReadExit returns the exit record a shim left in stateDir; ok is false when
// there is none (the process has not exited, or the shim died first).
func ReadExit(stateDir string) (e Exit, ok bool, err error) {
	b, err := os.ReadFile(filepath.Join(stateDir, ExitFile))
	if errors.Is(err, os.ErrNotExist) {
		return Exit{}, false, nil
	}
	if err != nil {
		return Exit{}, false, fmt.Errorf("read exit record: %w", err)
	}
	if err := json.Unmarshal(b, &e); err != nil {
		return Exit{}, false, fmt.Errorf("parse exit record %s: %w", stateDir, err)
	}
	return e, true, nil
}

func writeExit(stateDir string, e Exit) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	tmp := filepath.Join(stateDir, ExitFile+".tmp")
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(stateDir, ExitFile))
}
