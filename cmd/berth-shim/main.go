// Command berth-shim is the per-container shim of berthd, and the init
// process of `run --init` when invoked as docker-init. It is a separate,
// small binary so that each running container costs little memory: it
// links only the shim, the log drivers and the runtime driver.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"syscall"

	"berth/internal/runtime/initproc"
	"berth/internal/runtime/shim"
)

func main() {
	if filepath.Base(os.Args[0]) == "docker-init" {
		os.Exit(initproc.Run(os.Args[1:]))
	}
	if len(os.Args) != 3 || os.Args[1] != "shim" {
		fmt.Fprintln(os.Stderr, "usage: berth-shim shim CONFIG (started by berthd)")
		os.Exit(2)
	}
	// A tighter GC keeps each shim's resident set small. It is set here,
	// not through GOGC, which the runtime (runc is Go too) would inherit.
	debug.SetGCPercent(25)
	var cfg shim.Config
	b, err := os.ReadFile(os.Args[2])
	if err == nil {
		err = json.Unmarshal(b, &cfg)
	}
	if err == nil {
		signal.Ignore(syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGPIPE)
		err = shim.Run(context.Background(), cfg, os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "shim:", err)
		os.Exit(1)
	}
}
