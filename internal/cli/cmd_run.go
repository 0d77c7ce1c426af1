package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/cobra"
)

func (c *CLI) newCreateCommand() *cobra.Command {
	var o *containerOptions
	cmd := newCommand("create [OPTIONS] IMAGE [COMMAND] [ARG...]", "Create a new container", minArgs(1),
		func(cmd *cobra.Command, args []string) error {
			spec, err := o.parse(cmd.Flags(), args, osParseEnv())
			if err != nil {
				return usageStatusError(err, cmd)
			}
			c.setConsoleSize(spec)
			api, err := c.client()
			if err != nil {
				return err
			}
			id, err := c.createContainer(cmd.Context(), api, spec, o.quiet)
			if err != nil {
				return err
			}
			fmt.Fprintln(c.out, id)
			return nil
		})
	o = addContainerFlags(cmd.Flags(), false)
	return cmd
}

func (c *CLI) newRunCommand() *cobra.Command {
	var o *containerOptions
	cmd := newCommand("run [OPTIONS] IMAGE [COMMAND] [ARG...]", "Create and run a new container from an image", minArgs(1),
		func(cmd *cobra.Command, args []string) error {
			spec, err := o.parse(cmd.Flags(), args, osParseEnv())
			if err != nil {
				return usageStatusError(err, cmd)
			}
			return c.runContainer(cmd.Context(), o, spec)
		})
	o = addContainerFlags(cmd.Flags(), true)
	return cmd
}

// setConsoleSize gives a TTY container the local terminal's size from the start.
func (c *CLI) setConsoleSize(spec *containerSpec) {
	if !spec.Config.Tty {
		return
	}
	if fd, ok := c.stdoutFd(); ok {
		if w, h, err := termSize(fd); err == nil && w > 0 && h > 0 {
			spec.HostConfig.ConsoleSize = [2]uint{uint(h), uint(w)}
		}
	}
}

// familiarImage returns the image reference as docker prints it in
// "Unable to find image" ("busybox" → "busybox:latest").
func familiarImage(image string) string {
	named, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return image
	}
	return reference.FamiliarString(reference.TagNameOnly(named))
}

// createContainer creates the container, writes --cidfile and prints the
// daemon's warnings. As docker does, it pulls the image first with
// --pull=always, and after "no such image" with --pull=missing, then
// retries; pull progress goes to stderr.
func (c *CLI) createContainer(ctx context.Context, api *client.Client, spec *containerSpec, quiet bool) (string, error) {
	cidfile := spec.HostConfig.ContainerIDFile
	if cidfile != "" {
		if _, err := os.Stat(cidfile); err == nil {
			return "", fmt.Errorf("container ID file found, make sure the other container isn't running or delete %s", cidfile)
		}
		f, err := os.OpenFile(cidfile, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
		if err != nil {
			return "", fmt.Errorf("failed to create the container ID file: %w", err)
		}
		_ = f.Close()
	}
	removeCidfile := func() {
		if cidfile != "" {
			_ = os.Remove(cidfile)
		}
	}
	_, refErr := reference.ParseNormalizedNamed(spec.Config.Image)
	canPull := refErr == nil
	if spec.Pull == pullAlways && canPull {
		if err := c.pullImage(ctx, api, spec, quiet); err != nil {
			removeCidfile()
			return "", err
		}
	}
	opts := client.ContainerCreateOptions{
		Config: spec.Config, HostConfig: spec.HostConfig, NetworkingConfig: spec.Networking,
		Platform: spec.Platform, Name: spec.Name,
	}
	resp, err := api.ContainerCreate(ctx, opts)
	if err != nil && cerrdefs.IsNotFound(err) && canPull && spec.Pull == pullMissing && isImageNotFound(err) {
		if !quiet {
			fmt.Fprintf(c.err, "Unable to find image '%s' locally\n", familiarImage(spec.Config.Image))
		}
		if perr := c.pullImage(ctx, api, spec, quiet); perr != nil {
			removeCidfile()
			return "", perr
		}
		resp, err = api.ContainerCreate(ctx, opts)
	}
	if err != nil {
		removeCidfile()
		return "", err
	}
	for _, w := range resp.Warnings {
		fmt.Fprintf(c.err, "WARNING: %s\n", w)
	}
	if cidfile != "" {
		if err := os.WriteFile(cidfile, []byte(resp.ID), 0o644); err != nil {
			return "", fmt.Errorf("failed to write the container ID to the file: %w", err)
		}
	}
	return resp.ID, nil
}

// pullImage pulls the container's image, showing progress on stderr
// unless quiet.
func (c *CLI) pullImage(ctx context.Context, api *client.Client, spec *containerSpec, quiet bool) error {
	opts := client.ImagePullOptions{}
	if spec.Platform != nil {
		opts.Platforms = []ocispec.Platform{*spec.Platform}
	}
	rc, err := api.ImagePull(ctx, spec.Config.Image, opts)
	if err != nil {
		return err
	}
	defer rc.Close()
	var out io.Writer = c.err
	if quiet {
		out = io.Discard
	}
	return displayJSONMessages(rc, out)
}

// isImageNotFound tells a missing image from another 404 (e.g. a missing
// network) by the daemon's message.
func isImageNotFound(err error) bool {
	return containsAny(err.Error(), "No such image", "not found", "pull access denied")
}

// runContainer is `run` after flag parsing: create, attach, start, wait,
// and return the container's exit status, as docker's runContainer does.
func (c *CLI) runContainer(ctx context.Context, o *containerOptions, spec *containerSpec) error {
	cfg := spec.Config
	if !o.detach && cfg.AttachStdin && cfg.Tty {
		if _, ok := c.stdinFd(); !ok {
			return errors.New("the input device is not a TTY")
		}
	}
	c.setConsoleSize(spec)
	api, err := c.client()
	if err != nil {
		return err
	}
	id, err := c.createContainer(ctx, api, spec, o.quiet)
	if err != nil {
		return runStatusError(err, "run")
	}

	// With --sig-proxy the container decides when we stop: a signal is
	// forwarded to it instead of ending the command.
	runCtx := ctx
	if o.sigProxy && !cfg.Tty && !o.detach {
		runCtx = context.WithoutCancel(ctx)
	}
	runCtx, cancel := context.WithCancel(runCtx)
	defer cancel()

	if o.sigProxy && !cfg.Tty && !o.detach {
		done := c.forwardSignals(runCtx, api, id)
		defer func() { cancel(); <-done }()
	}

	var streamErr chan error
	if !o.detach && (cfg.AttachStdin || cfg.AttachStdout || cfg.AttachStderr) {
		keys, err := parseDetachKeys(detachKeysOr(o.detachKeys))
		if err != nil {
			return runStatusError(err, "run")
		}
		resp, err := api.ContainerAttach(runCtx, id, client.ContainerAttachOptions{
			Stream: true, Stdin: cfg.AttachStdin, Stdout: cfg.AttachStdout, Stderr: cfg.AttachStderr,
			DetachKeys: o.detachKeys,
		})
		if err != nil {
			return runStatusError(err, "run")
		}
		defer resp.Close()
		s := streams{tty: cfg.Tty, detachKeys: keys}
		if cfg.AttachStdin {
			s.stdin = c.in
		}
		if cfg.AttachStdout {
			s.stdout = c.out
		}
		if cfg.AttachStderr {
			s.stderr = c.err
			if cfg.Tty {
				s.stderr = c.out
			}
		}
		streamErr = make(chan error, 1)
		go func() { streamErr <- c.pipeHijacked(runCtx, &resp.HijackedResponse, s) }()
	}

	var status <-chan int
	if !o.detach {
		status = c.waitExitOrRemoved(runCtx, api, id, spec.HostConfig.AutoRemove)
	}

	if _, err := api.ContainerStart(runCtx, id, client.ContainerStartOptions{}); err != nil {
		if streamErr != nil {
			cancel()
			<-streamErr
		}
		if spec.HostConfig.AutoRemove && status != nil {
			<-status
		}
		return runStatusError(err, "run")
	}
	if o.detach {
		fmt.Fprintln(c.out, id)
		return nil
	}

	if cfg.Tty {
		done := c.monitorTTYSize(runCtx, func(ctx context.Context, h, w uint) error {
			_, err := api.ContainerResize(ctx, id, client.ContainerResizeOptions{Height: h, Width: w})
			return err
		})
		defer func() { cancel(); <-done }()
	}

	if streamErr != nil {
		if err := <-streamErr; err != nil {
			if errors.Is(err, errDetached) {
				return nil
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
	}
	select {
	case code := <-status:
		if code != 0 {
			return StatusError{StatusCode: code}
		}
		return nil
	case <-ctx.Done():
		if runCtx.Err() == nil && o.sigProxy && !cfg.Tty {
			code := <-status
			if code != 0 {
				return StatusError{StatusCode: code}
			}
			return nil
		}
		return ctx.Err()
	}
}

func detachKeysOr(k string) string {
	if k == "" {
		return defaultDetachKeys
	}
	return k
}

// waitExitOrRemoved registers a wait before the container starts (next-exit,
// or removed with --rm) and delivers its exit status; 125 when waiting fails.
func (c *CLI) waitExitOrRemoved(ctx context.Context, api *client.Client, id string, autoRemove bool) <-chan int {
	cond := container.WaitConditionNextExit
	if autoRemove {
		cond = container.WaitConditionRemoved
	}
	res := api.ContainerWait(ctx, id, client.ContainerWaitOptions{Condition: cond})
	out := make(chan int, 1)
	go func() {
		select {
		case r := <-res.Result:
			if r.Error != nil {
				fmt.Fprintf(c.err, "Error waiting for container: %v\n", r.Error.Message)
				out <- exitDaemonError
				return
			}
			out <- int(r.StatusCode)
		case err := <-res.Error:
			// A wait cut short because the command is ending is not news.
			if ctx.Err() == nil {
				fmt.Fprintf(c.err, "Error waiting for container: %v\n", err)
			}
			out <- exitDaemonError
		}
	}()
	return out
}
