package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/go-units"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

func (c *CLI) newStartCommand() *cobra.Command {
	var attach, interactive bool
	var detachKeys string
	cmd := newCommand("start [OPTIONS] CONTAINER [CONTAINER...]", "Start one or more stopped containers", minArgs(1),
		func(cmd *cobra.Command, args []string) error {
			api, err := c.client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if attach || interactive {
				if len(args) > 1 {
					return errors.New("you cannot start and attach multiple containers at once")
				}
				return c.startAttached(ctx, api, args[0], interactive, detachKeys)
			}
			var errs, failed []string
			for _, id := range args {
				if _, err := api.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
					errs = append(errs, err.Error())
					failed = append(failed, id)
					continue
				}
				fmt.Fprintln(c.out, id)
			}
			if len(failed) > 0 {
				errs = append(errs, "Error: failed to start containers: "+strings.Join(failed, ", "))
			}
			return joinErrors(errs)
		})
	fs := cmd.Flags()
	fs.BoolVarP(&attach, "attach", "a", false, "Attach STDOUT/STDERR and forward signals")
	fs.BoolVarP(&interactive, "interactive", "i", false, "Attach container's STDIN")
	fs.StringVar(&detachKeys, "detach-keys", "", "Override the key sequence for detaching a container")
	return cmd
}

// startAttached is `start -a/-i`: attach, start, and end with the
// container's exit status.
func (c *CLI) startAttached(ctx context.Context, api *client.Client, id string, interactive bool, detachKeys string) error {
	ins, err := api.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return err
	}
	cfg := ins.Container.Config
	if cfg == nil {
		cfg = &container.Config{}
	}
	keys, err := parseDetachKeys(detachKeysOr(detachKeys))
	if err != nil {
		return err
	}
	withStdin := interactive && cfg.OpenStdin
	if withStdin && cfg.Tty {
		if _, ok := c.stdinFd(); !ok {
			return errors.New("the input device is not a TTY")
		}
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	if !cfg.Tty {
		done := c.forwardSignals(runCtx, api, id)
		defer func() { cancel(); <-done }()
	}
	resp, err := api.ContainerAttach(runCtx, id, client.ContainerAttachOptions{
		Stream: true, Stdin: withStdin, Stdout: true, Stderr: true, DetachKeys: detachKeys,
	})
	if err != nil {
		return err
	}
	defer resp.Close()
	s := streams{tty: cfg.Tty, stdout: c.out, stderr: c.err, detachKeys: keys}
	if cfg.Tty {
		s.stderr = c.out
	}
	if withStdin {
		s.stdin = c.in
	}
	streamErr := make(chan error, 1)
	go func() { streamErr <- c.pipeHijacked(runCtx, &resp.HijackedResponse, s) }()
	status := c.waitExitOrRemoved(runCtx, api, id, false)
	if _, err := api.ContainerStart(runCtx, id, client.ContainerStartOptions{}); err != nil {
		cancel()
		<-streamErr
		return err
	}
	if cfg.Tty {
		done := c.monitorTTYSize(runCtx, func(ctx context.Context, h, w uint) error {
			_, err := api.ContainerResize(ctx, id, client.ContainerResizeOptions{Height: h, Width: w})
			return err
		})
		defer func() { cancel(); <-done }()
	}
	if err := <-streamErr; err != nil {
		if errors.Is(err, errDetached) {
			return nil
		}
		return err
	}
	if code := <-status; code != 0 {
		return StatusError{StatusCode: code}
	}
	return nil
}

// stopFlags are the -s/--signal and -t/--timeout flags of stop and restart.
type stopFlags struct {
	signal  string
	timeout int
}

func (f *stopFlags) add(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVarP(&f.signal, "signal", "s", "", "Signal to send to the container")
	fs.IntVarP(&f.timeout, "timeout", "t", 0, "Seconds to wait before killing the container")
	fs.IntVar(&f.timeout, "time", 0, "Seconds to wait before killing the container (deprecated: use --timeout)")
	_ = fs.MarkHidden("time")
}

func (f *stopFlags) timeoutPtr(cmd *cobra.Command) *int {
	if !cmd.Flags().Changed("timeout") && !cmd.Flags().Changed("time") {
		return nil
	}
	t := f.timeout
	return &t
}

// forEach runs fn on every argument, prints the argument on success, and
// joins the errors as docker's multi-container commands do.
func (c *CLI) forEach(args []string, fn func(id string) error) error {
	var errs []string
	for _, id := range args {
		if err := fn(id); err != nil {
			errs = append(errs, err.Error())
			continue
		}
		fmt.Fprintln(c.out, id)
	}
	return joinErrors(errs)
}

func (c *CLI) newStopCommand() *cobra.Command {
	var f stopFlags
	var cmd *cobra.Command
	cmd = newCommand("stop [OPTIONS] CONTAINER [CONTAINER...]", "Stop one or more running containers", minArgs(1),
		func(_ *cobra.Command, args []string) error {
			api, err := c.client()
			if err != nil {
				return err
			}
			opts := client.ContainerStopOptions{Signal: f.signal, Timeout: f.timeoutPtr(cmd)}
			return c.forEach(args, func(id string) error {
				_, err := api.ContainerStop(cmd.Context(), id, opts)
				return err
			})
		})
	f.add(cmd)
	return cmd
}

func (c *CLI) newRestartCommand() *cobra.Command {
	var f stopFlags
	var cmd *cobra.Command
	cmd = newCommand("restart [OPTIONS] CONTAINER [CONTAINER...]", "Restart one or more containers", minArgs(1),
		func(_ *cobra.Command, args []string) error {
			api, err := c.client()
			if err != nil {
				return err
			}
			opts := client.ContainerRestartOptions{Signal: f.signal, Timeout: f.timeoutPtr(cmd)}
			return c.forEach(args, func(id string) error {
				_, err := api.ContainerRestart(cmd.Context(), id, opts)
				return err
			})
		})
	f.add(cmd)
	return cmd
}

func (c *CLI) newKillCommand() *cobra.Command {
	var sig string
	cmd := newCommand("kill [OPTIONS] CONTAINER [CONTAINER...]", "Kill one or more running containers", minArgs(1),
		func(cmd *cobra.Command, args []string) error {
			api, err := c.client()
			if err != nil {
				return err
			}
			return c.forEach(args, func(id string) error {
				_, err := api.ContainerKill(cmd.Context(), id, client.ContainerKillOptions{Signal: sig})
				return err
			})
		})
	cmd.Flags().StringVarP(&sig, "signal", "s", "", "Signal to send to the container")
	return cmd
}

func (c *CLI) newRmCommand() *cobra.Command {
	var force, volumes, link bool
	cmd := newCommand("rm [OPTIONS] CONTAINER [CONTAINER...]", "Remove one or more containers", minArgs(1),
		func(cmd *cobra.Command, args []string) error {
			api, err := c.client()
			if err != nil {
				return err
			}
			var errs []string
			for _, id := range args {
				id = strings.Trim(id, "/")
				if id == "" {
					errs = append(errs, "Container name cannot be empty")
					continue
				}
				_, err := api.ContainerRemove(cmd.Context(), id, client.ContainerRemoveOptions{
					RemoveVolumes: volumes, RemoveLinks: link, Force: force})
				if err != nil {
					if force && cerrdefs.IsNotFound(err) {
						continue
					}
					errs = append(errs, err.Error())
					continue
				}
				fmt.Fprintln(c.out, id)
			}
			return joinErrors(errs)
		})
	fs := cmd.Flags()
	fs.BoolVarP(&force, "force", "f", false, "Force the removal of a running container (uses SIGKILL)")
	fs.BoolVarP(&volumes, "volumes", "v", false, "Remove anonymous volumes associated with the container")
	fs.BoolVarP(&link, "link", "l", false, "Remove the specified link")
	return cmd
}

func (c *CLI) newPsCommand() *cobra.Command {
	var all, quiet, noTrunc, size, latest bool
	var last int
	var format string
	var filters []string
	cmd := newCommand("ps [OPTIONS]", "List containers", noArgs,
		func(cmd *cobra.Command, _ []string) error {
			f, err := parseFilters(filters)
			if err != nil {
				return err
			}
			api, err := c.client()
			if err != nil {
				return err
			}
			opts := client.ContainerListOptions{All: all, Limit: last, Size: size, Filters: f}
			if latest && last == -1 {
				opts.Limit = 1
			}
			if opts.Limit == -1 {
				opts.Limit = 0
			}
			if strings.Contains(format, ".Size") {
				opts.Size = true
			}
			res, err := api.ContainerList(cmd.Context(), opts)
			if err != nil {
				return err
			}
			now := c.now()
			rows := make([]containerContext, len(res.Items))
			for i, it := range res.Items {
				rows[i] = containerContext{c: it, trunc: !noTrunc, now: now}
			}
			table := defaultContainerTable
			if size {
				table += containerSizeColumn
			}
			return writeList(c.out, listFormat{format: format, defaultTable: table, quiet: quiet, quietFormat: "{{.ID}}"}, rows)
		})
	fs := cmd.Flags()
	fs.BoolVarP(&all, "all", "a", false, "Show all containers (default shows just running)")
	filterFlag(fs, &filters, true)
	fs.StringVar(&format, "format", "", formatHelp)
	fs.IntVarP(&last, "last", "n", -1, "Show n last created containers (includes all states)")
	fs.BoolVarP(&latest, "latest", "l", false, "Show the latest created container (includes all states)")
	fs.BoolVar(&noTrunc, "no-trunc", false, "Don't truncate output")
	fs.BoolVarP(&quiet, "quiet", "q", false, "Only display container IDs")
	fs.BoolVarP(&size, "size", "s", false, "Display total file sizes")
	return cmd
}

const formatHelp = `Format output using a custom template:
'table':            Print output in table format with column headers (default)
'table TEMPLATE':   Print output in table format using the given Go template
'json':             Print in JSON format
'TEMPLATE':         Print output using the given Go template`

func (c *CLI) newLogsCommand() *cobra.Command {
	var o client.ContainerLogsOptions
	cmd := newCommand("logs [OPTIONS] CONTAINER", "Fetch the logs of a container", exactArgs(1),
		func(cmd *cobra.Command, args []string) error {
			api, err := c.client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			ins, err := api.ContainerInspect(ctx, args[0], client.ContainerInspectOptions{})
			if err != nil {
				return err
			}
			o.ShowStdout, o.ShowStderr = true, true
			rc, err := api.ContainerLogs(ctx, args[0], o)
			if err != nil {
				return err
			}
			defer rc.Close()
			if ins.Container.Config != nil && ins.Container.Config.Tty {
				_, err = io.Copy(c.out, rc)
			} else {
				_, err = stdcopy.StdCopy(c.out, c.err, rc)
			}
			if err != nil && ctx.Err() == nil {
				return err
			}
			return ctx.Err()
		})
	fs := cmd.Flags()
	fs.BoolVar(&o.Details, "details", false, "Show extra details provided to logs")
	fs.BoolVarP(&o.Follow, "follow", "f", false, "Follow log output")
	fs.StringVar(&o.Since, "since", "", `Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)`)
	fs.StringVarP(&o.Tail, "tail", "n", "all", "Number of lines to show from the end of the logs")
	fs.BoolVarP(&o.Timestamps, "timestamps", "t", false, "Show timestamps")
	fs.StringVar(&o.Until, "until", "", `Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)`)
	return cmd
}

func (c *CLI) newWaitCommand() *cobra.Command {
	return newCommand("wait CONTAINER [CONTAINER...]", "Block until one or more containers stop, then print their exit codes", minArgs(1),
		func(cmd *cobra.Command, args []string) error {
			api, err := c.client()
			if err != nil {
				return err
			}
			var errs []string
			for _, id := range args {
				res := api.ContainerWait(cmd.Context(), id, client.ContainerWaitOptions{})
				select {
				case r := <-res.Result:
					fmt.Fprintf(c.out, "%d\n", r.StatusCode)
				case err := <-res.Error:
					errs = append(errs, err.Error())
				}
			}
			return joinErrors(errs)
		})
}

func (c *CLI) newAttachCommand() *cobra.Command {
	var noStdin, sigProxy bool
	var detachKeys string
	cmd := newCommand("attach [OPTIONS] CONTAINER", "Attach local standard input, output, and error streams to a running container", exactArgs(1),
		func(cmd *cobra.Command, args []string) error {
			api, err := c.client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			id := args[0]
			ins, err := api.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
			if err != nil {
				return err
			}
			st := ins.Container.State
			switch {
			case st == nil || !st.Running:
				//lint:ignore ST1005 docker prints this exact text
				return errors.New("You cannot attach to a stopped container, start it first")
			case st.Paused:
				//lint:ignore ST1005 docker prints this exact text
				return errors.New("You cannot attach to a paused container, unpause it first")
			case st.Restarting:
				//lint:ignore ST1005 docker prints this exact text
				return errors.New("You cannot attach to a restarting container, wait until it is running")
			}
			cfg := ins.Container.Config
			if cfg == nil {
				cfg = &container.Config{}
			}
			keys, err := parseDetachKeys(detachKeysOr(detachKeys))
			if err != nil {
				return err
			}
			withStdin := !noStdin && cfg.OpenStdin
			if withStdin && cfg.Tty {
				if _, ok := c.stdinFd(); !ok {
					return errors.New("the input device is not a TTY")
				}
			}
			runCtx, cancel := context.WithCancel(ctx)
			defer cancel()
			if sigProxy && !cfg.Tty {
				runCtx, cancel = context.WithCancel(context.WithoutCancel(ctx))
				defer cancel()
				done := c.forwardSignals(runCtx, api, id)
				defer func() { cancel(); <-done }()
			}
			status := api.ContainerWait(runCtx, id, client.ContainerWaitOptions{})
			resp, err := api.ContainerAttach(runCtx, id, client.ContainerAttachOptions{
				Stream: true, Stdin: withStdin, Stdout: true, Stderr: true, DetachKeys: detachKeys})
			if err != nil {
				return err
			}
			defer resp.Close()
			if cfg.Tty {
				done := c.monitorTTYSize(runCtx, func(ctx context.Context, h, w uint) error {
					_, err := api.ContainerResize(ctx, id, client.ContainerResizeOptions{Height: h, Width: w})
					return err
				})
				defer func() { cancel(); <-done }()
			}
			s := streams{tty: cfg.Tty, stdout: c.out, stderr: c.err, detachKeys: keys}
			if cfg.Tty {
				s.stderr = c.out
			}
			if withStdin {
				s.stdin = c.in
			}
			if err := c.pipeHijacked(runCtx, &resp.HijackedResponse, s); err != nil {
				if errors.Is(err, errDetached) {
					return errEscapeSequence
				}
				return err
			}
			select {
			case r := <-status.Result:
				if r.StatusCode != 0 {
					return StatusError{StatusCode: int(r.StatusCode)}
				}
			case err := <-status.Error:
				return err
			}
			return nil
		})
	fs := cmd.Flags()
	fs.StringVar(&detachKeys, "detach-keys", "", "Override the key sequence for detaching a container")
	fs.BoolVar(&noStdin, "no-stdin", false, "Do not attach STDIN")
	fs.BoolVar(&sigProxy, "sig-proxy", true, "Proxy all received signals to the process")
	return cmd
}

func (c *CLI) newExecCommand() *cobra.Command {
	var detach, interactive, tty, privileged bool
	var user, workdir, detachKeys string
	var env, envFile []string
	cmd := newCommand("exec [OPTIONS] CONTAINER COMMAND [ARG...]", "Execute a command in a running container", minArgs(2),
		func(cmd *cobra.Command, args []string) error {
			penv := osParseEnv()
			var vars []string
			for _, f := range envFile {
				lines, err := parseKeyValueFile(f, penv)
				if err != nil {
					return err
				}
				vars = append(vars, lines...)
			}
			for _, e := range env {
				v, err := validateEnv(e, penv.lookupEnv)
				if err != nil {
					return flagErrorFunc(cmd, flagError(cmd.Flags(), "env", e, err))
				}
				vars = append(vars, v)
			}
			keys, err := parseDetachKeys(detachKeysOr(detachKeys))
			if err != nil {
				return err
			}
			if interactive && tty && !detach {
				if _, ok := c.stdinFd(); !ok {
					return errors.New("the input device is not a TTY")
				}
			}
			api, err := c.client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			var size client.ConsoleSize
			if tty {
				if fd, ok := c.stdoutFd(); ok {
					if w, h, err := termSize(fd); err == nil && w > 0 && h > 0 {
						size = client.ConsoleSize{Height: uint(h), Width: uint(w)}
					}
				}
			}
			ex, err := api.ExecCreate(ctx, args[0], client.ExecCreateOptions{
				User: user, Privileged: privileged, TTY: tty, ConsoleSize: size,
				AttachStdin: interactive && !detach, AttachStdout: !detach, AttachStderr: !detach,
				DetachKeys: detachKeys, Env: vars, WorkingDir: workdir, Cmd: args[1:],
			})
			if err != nil {
				return err
			}
			if detach {
				_, err := api.ExecStart(ctx, ex.ID, client.ExecStartOptions{Detach: true, TTY: tty, ConsoleSize: size})
				return err
			}
			resp, err := api.ExecAttach(ctx, ex.ID, client.ExecAttachOptions{TTY: tty, ConsoleSize: size})
			if err != nil {
				return err
			}
			defer resp.Close()
			runCtx, cancel := context.WithCancel(ctx)
			defer cancel()
			if tty {
				done := c.monitorTTYSize(runCtx, func(ctx context.Context, h, w uint) error {
					_, err := api.ExecResize(ctx, ex.ID, client.ExecResizeOptions{Height: h, Width: w})
					return err
				})
				defer func() { cancel(); <-done }()
			}
			s := streams{tty: tty, stdout: c.out, stderr: c.err, detachKeys: keys}
			if tty {
				s.stderr = c.out
			}
			if interactive {
				s.stdin = c.in
			}
			if err := c.pipeHijacked(runCtx, &resp.HijackedResponse, s); err != nil {
				if errors.Is(err, errDetached) {
					return errEscapeSequence
				}
				return err
			}
			res, err := api.ExecInspect(ctx, ex.ID, client.ExecInspectOptions{})
			if err != nil {
				return err
			}
			if res.ExitCode != 0 {
				return StatusError{StatusCode: res.ExitCode}
			}
			return nil
		})
	fs := cmd.Flags()
	fs.SetInterspersed(false)
	fs.BoolVarP(&detach, "detach", "d", false, "Detached mode: run command in the background")
	fs.StringVar(&detachKeys, "detach-keys", "", "Override the key sequence for detaching a container")
	fs.StringArrayVarP(&env, "env", "e", nil, "Set environment variables")
	fs.StringArrayVar(&envFile, "env-file", nil, "Read in a file of environment variables")
	fs.BoolVarP(&interactive, "interactive", "i", false, "Keep STDIN open even if not attached")
	fs.BoolVar(&privileged, "privileged", false, "Give extended privileges to the command")
	fs.BoolVarP(&tty, "tty", "t", false, "Allocate a pseudo-TTY")
	fs.StringVarP(&user, "user", "u", "", "Username or UID (format: \"<name|uid>[:<group|gid>]\")")
	fs.StringVarP(&workdir, "workdir", "w", "", "Working directory inside the container")
	return cmd
}

func (c *CLI) newRenameCommand() *cobra.Command {
	return newCommand("rename CONTAINER NEW_NAME", "Rename a container", exactArgs(2),
		func(cmd *cobra.Command, args []string) error {
			oldName, newName := strings.TrimSpace(args[0]), strings.TrimSpace(args[1])
			if oldName == "" || newName == "" {
				return errors.New("Error: Neither old nor new names may be empty")
			}
			api, err := c.client()
			if err != nil {
				return err
			}
			if _, err := api.ContainerRename(cmd.Context(), oldName, client.ContainerRenameOptions{NewName: newName}); err != nil {
				fmt.Fprintln(c.err, err)
				return StatusError{Status: "Error: failed to rename container named " + oldName, StatusCode: 1, Cause: err}
			}
			return nil
		})
}

func (c *CLI) newTopCommand() *cobra.Command {
	cmd := newCommand("top CONTAINER [ps OPTIONS]", "Display the running processes of a container", minArgs(1),
		func(cmd *cobra.Command, args []string) error {
			api, err := c.client()
			if err != nil {
				return err
			}
			res, err := api.ContainerTop(cmd.Context(), args[0], client.ContainerTopOptions{Arguments: args[1:]})
			if err != nil {
				return err
			}
			return writeTop(c.out, res.Titles, res.Processes)
		})
	cmd.Flags().SetInterspersed(false)
	return cmd
}

// writeTop prints `top` output aligned as docker does.
func writeTop(w io.Writer, titles []string, procs [][]string) error {
	tw := tabwriter.NewWriter(w, 20, 1, 3, ' ', 0)
	fmt.Fprintln(tw, strings.Join(titles, "\t"))
	for _, p := range procs {
		fmt.Fprintln(tw, strings.Join(p, "\t"))
	}
	return tw.Flush()
}

func (c *CLI) newPortCommand() *cobra.Command {
	return newCommand("port CONTAINER [PRIVATE_PORT[/PROTO]]", "List port mappings or a specific mapping for the container", rangeArgs(1, 2),
		func(cmd *cobra.Command, args []string) error {
			api, err := c.client()
			if err != nil {
				return err
			}
			ins, err := api.ContainerInspect(cmd.Context(), args[0], client.ContainerInspectOptions{})
			if err != nil {
				return err
			}
			var ports network.PortMap
			if ins.Container.NetworkSettings != nil {
				ports = ins.Container.NetworkSettings.Ports
			}
			private := ""
			if len(args) == 2 {
				private = args[1]
			}
			lines, err := portLines(ports, private)
			if err != nil {
				return fmt.Errorf("Error: No public port '%s' published for %s", private, args[0])
			}
			for _, l := range lines {
				fmt.Fprintln(c.out, l)
			}
			return nil
		})
}

// portLines renders `port` output: every "port -> host:hostport" line, or
// only the host addresses of one private port.
func portLines(ports network.PortMap, private string) ([]string, error) {
	hostAddr := func(b network.PortBinding) string {
		ip := "0.0.0.0"
		if b.HostIP.IsValid() {
			ip = b.HostIP.String()
		}
		if strings.Contains(ip, ":") {
			return "[" + ip + "]:" + b.HostPort
		}
		return ip + ":" + b.HostPort
	}
	if private != "" {
		p, proto := splitProtoPort(private)
		want, err := network.ParsePort(p + "/" + proto)
		if err != nil {
			return nil, err
		}
		bs, ok := ports[want]
		if !ok || len(bs) == 0 {
			return nil, cerrdefs.ErrNotFound
		}
		var out []string
		for _, b := range bs {
			out = append(out, hostAddr(b))
		}
		return out, nil
	}
	keys := make([]network.Port, 0, len(ports))
	for p := range ports {
		keys = append(keys, p)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].Num() != keys[j].Num() {
			return keys[i].Num() < keys[j].Num()
		}
		return keys[i].Proto() < keys[j].Proto()
	})
	var out []string
	for _, p := range keys {
		for _, b := range ports[p] {
			out = append(out, fmt.Sprintf("%s -> %s", p, hostAddr(b)))
		}
	}
	return out, nil
}

func (c *CLI) newContainerPruneCommand() *cobra.Command {
	var force, dryRun bool
	var filters []string
	cmd := newCommand("prune [OPTIONS]", "Remove all stopped containers", noArgs,
		func(cmd *cobra.Command, _ []string) error {
			pf, err := parsePruneFilters(filters, c.now())
			if err != nil {
				return err
			}
			api, err := c.client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if dryRun {
				all, err := api.ContainerList(ctx, client.ContainerListOptions{All: true, Size: true})
				if err != nil {
					return err
				}
				sel := selectContainersToPrune(all.Items, pf)
				var space int64
				if len(sel) > 0 {
					fmt.Fprintln(c.out, "Would delete Containers:")
					for _, ct := range sel {
						fmt.Fprintln(c.out, ct.ID)
						space += ct.SizeRw
					}
					fmt.Fprintln(c.out)
				}
				fmt.Fprintf(c.out, "Total reclaimable space: %s\n", units.HumanSize(float64(space)))
				return nil
			}
			if !force && !c.confirm("WARNING! This will remove all stopped containers.\nAre you sure you want to continue?") {
				return nil
			}
			f, _ := parseFilters(filters)
			res, err := api.ContainerPrune(ctx, client.ContainerPruneOptions{Filters: f})
			if err != nil {
				return err
			}
			if len(res.Report.ContainersDeleted) > 0 {
				fmt.Fprintln(c.out, "Deleted Containers:")
				for _, id := range res.Report.ContainersDeleted {
					fmt.Fprintln(c.out, id)
				}
				fmt.Fprintln(c.out)
			}
			fmt.Fprintf(c.out, "Total reclaimed space: %s\n", units.HumanSize(float64(res.Report.SpaceReclaimed)))
			return nil
		})
	fs := cmd.Flags()
	filterFlag(fs, &filters, false)
	fs.BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	fs.BoolVar(&dryRun, "dry-run", false, "List what would be removed, without removing anything")
	return cmd
}
