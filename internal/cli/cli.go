package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"
)

// programName is the command name printed in messages.
const programName = "berth"

// Version is the berth client version.
const Version = "0.1.0-dev"

// DefaultHost is the daemon address used when neither -H, BERTH_HOST nor
// DOCKER_HOST is set.
const DefaultHost = "unix:///run/berth/berth.sock"

// Main runs the berth command line with args (without the program name) and
// returns the process exit status.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := &CLI{in: stdin, out: stdout, err: stderr, getenv: os.Getenv, now: time.Now}
	return c.run(ctx, args)
}

// CLI is one invocation of the command line: its streams, environment and
// (lazily) its API client.
type CLI struct {
	in       io.Reader
	out, err io.Writer
	getenv   func(string) string
	now      func() time.Time

	host   string
	api    *client.Client
	reader *bufio.Reader
}

func (c *CLI) run(ctx context.Context, args []string) int {
	root := c.newRootCommand()
	root.SetArgs(args)
	root.SetIn(c.in)
	root.SetOut(c.out)
	root.SetErr(c.err)
	err := root.ExecuteContext(ctx)
	if c.api != nil {
		_ = c.api.Close()
	}
	if err == nil {
		return 0
	}
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return 130
	}
	if msg := err.Error(); msg != "" {
		var se StatusError
		if !errors.As(err, &se) || se.Status != "" || se.Cause != nil {
			fmt.Fprintln(c.err, msg)
		}
	}
	return exitCode(err)
}

// daemonHost resolves the daemon address: -H, then BERTH_HOST, then
// DOCKER_HOST, then DefaultHost.
func daemonHost(flag string, getenv func(string) string) string {
	for _, h := range []string{flag, getenv("BERTH_HOST"), getenv("DOCKER_HOST")} {
		if h != "" {
			return h
		}
	}
	return DefaultHost
}

// client returns the API client, creating it on first use. API version
// negotiation is on (the default of the v0.6 client).
func (c *CLI) client() (*client.Client, error) {
	if c.api != nil {
		return c.api, nil
	}
	api, err := client.New(client.WithHost(daemonHost(c.host, c.getenv)), client.WithUserAgent(programName+"/"+Version))
	if err != nil {
		return nil, fmt.Errorf("create client: %w", err)
	}
	c.api = api
	return api, nil
}

// stdinFd returns the terminal file descriptor of stdin, if it is one.
func (c *CLI) stdinFd() (int, bool) {
	f, ok := c.in.(*os.File)
	if !ok {
		return 0, false
	}
	fd := int(f.Fd())
	return fd, term.IsTerminal(fd)
}

// stdoutFd returns the terminal file descriptor of stdout, if it is one.
func (c *CLI) stdoutFd() (int, bool) {
	f, ok := c.out.(*os.File)
	if !ok {
		return 0, false
	}
	fd := int(f.Fd())
	return fd, term.IsTerminal(fd)
}

// confirm prints a [y/N] prompt and reads the answer from stdin.
func (c *CLI) confirm(message string) bool {
	fmt.Fprintf(c.out, "%s [y/N] ", message)
	if c.reader == nil {
		c.reader = bufio.NewReader(c.in)
	}
	line, _ := c.reader.ReadString('\n')
	line = strings.TrimSpace(line)
	return line == "y" || line == "Y"
}

func (c *CLI) newRootCommand() *cobra.Command {
	var showVersion bool
	root := &cobra.Command{
		Use:              programName + " [OPTIONS] COMMAND [ARG...]",
		Short:            "A self-sufficient runtime for containers",
		SilenceUsage:     true,
		SilenceErrors:    true,
		TraverseChildren: true,
		Args:             noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if showVersion {
				fmt.Fprintf(c.out, "Berth version %s\n", Version)
				return nil
			}
			return cmd.Help()
		},
		CompletionOptions:     cobra.CompletionOptions{DisableDefaultCmd: true},
		DisableFlagsInUseLine: true,
	}
	root.Flags().StringVarP(&c.host, "host", "H", "", "Daemon socket to connect to")
	root.Flags().BoolVarP(&showVersion, "version", "v", false, "Print version information and quit")
	root.SetFlagErrorFunc(flagErrorFunc)
	root.SetHelpTemplate(helpTemplate)
	root.SetUsageTemplate(usageTemplate)
	root.SetHelpCommand(&cobra.Command{Hidden: true, Use: "no-help"})

	root.AddCommand(
		// containers
		c.newRunCommand(), c.newCreateCommand(), c.newStartCommand(), c.newStopCommand(),
		c.newRestartCommand(), c.newKillCommand(), c.newRmCommand(), c.newPsCommand(),
		c.newLogsCommand(), c.newWaitCommand(), c.newAttachCommand(), c.newExecCommand(),
		c.newRenameCommand(), c.newTopCommand(), c.newPortCommand(),
		c.newCpCommand(), c.newDiffCommand(), c.newExportCommand(), c.newCommitCommand(),
		// images
		c.newImagesCommand(), c.newHistoryCommand(), c.newTagCommand(), c.newRmiCommand(),
		c.newImportCommand(), c.newLoadCommand(), c.newSaveCommand(),
		c.newPullCommand(), c.newPushCommand(), c.newLoginCommand(), c.newLogoutCommand(),
		// system
		c.newVersionCommand(), c.newInfoCommand(), c.newInspectCommand(), c.newEventsCommand(),
		// management groups
		c.newContainerGroup(), c.newImageGroup(), c.newNetworkGroup(), c.newSystemGroup(), c.newVolumeGroup(),
	)
	setFlagErrors(root)
	return root
}

// setFlagErrors installs docker's flag error handling and a help flag on
// every command; -h means help unless the command uses it (run's -h is
// --hostname).
func setFlagErrors(cmd *cobra.Command) {
	cmd.SetFlagErrorFunc(flagErrorFunc)
	if cmd.Flags().Lookup("help") == nil {
		if cmd.Flags().ShorthandLookup("h") == nil {
			cmd.Flags().BoolP("help", "h", false, "Print usage")
		} else {
			cmd.Flags().Bool("help", false, "Print usage")
		}
		// docker lists no help flag under Options.
		_ = cmd.Flags().MarkHidden("help")
	}
	for _, sub := range cmd.Commands() {
		setFlagErrors(sub)
	}
}

func (c *CLI) newContainerGroup() *cobra.Command {
	g := newCommand("container", "Manage containers", noArgs, showHelp)
	ls := c.newPsCommand()
	ls.Use, ls.Aliases = "ls [OPTIONS]", []string{"ps", "list"}
	rm := c.newRmCommand()
	rm.Aliases = []string{"remove"}
	g.AddCommand(c.newRunCommand(), c.newCreateCommand(), c.newStartCommand(), c.newStopCommand(),
		c.newRestartCommand(), c.newKillCommand(), rm, ls, c.newLogsCommand(), c.newWaitCommand(),
		c.newAttachCommand(), c.newExecCommand(), c.newRenameCommand(), c.newTopCommand(),
		c.newPortCommand(), c.newContainerPruneCommand(), c.newTypedInspectCommand("container"),
		c.newCpCommand(), c.newDiffCommand(), c.newExportCommand(), c.newCommitCommand())
	return g
}

func (c *CLI) newImageGroup() *cobra.Command {
	g := newCommand("image", "Manage images", noArgs, showHelp)
	ls := c.newImagesCommand()
	ls.Use, ls.Aliases = "ls [OPTIONS] [REPOSITORY[:TAG]]", []string{"list"}
	rm := c.newRmiCommand()
	rm.Use, rm.Aliases = "rm [OPTIONS] IMAGE [IMAGE...]", []string{"rmi", "remove"}
	g.AddCommand(ls, c.newHistoryCommand(), c.newTagCommand(), rm, c.newImportCommand(),
		c.newLoadCommand(), c.newSaveCommand(), c.newImagePruneCommand(), c.newTypedInspectCommand("image"))
	return g
}

func (c *CLI) newSystemGroup() *cobra.Command {
	g := newCommand("system", "Manage Berth", noArgs, showHelp)
	g.AddCommand(c.newDfCommand(), c.newSystemPruneCommand(), c.newInfoCommand(), c.newEventsCommand())
	return g
}

// showHelp prints a group's help when it is run without a subcommand; like
// docker, to stderr (--help prints to stdout).
func showHelp(cmd *cobra.Command, _ []string) error {
	cmd.SetOut(cmd.ErrOrStderr())
	return cmd.Help()
}

// flagErrorFunc reports flag errors as docker does: the message, the
// usage line, a hint to --help, and status 125.
func flagErrorFunc(cmd *cobra.Command, err error) error {
	if err == nil {
		return nil
	}
	return StatusError{
		Status:     fmt.Sprintf("%s\n\nUsage:  %s\n\nRun '%s --help' for more information", err, usageLine(cmd), cmd.CommandPath()),
		StatusCode: exitDaemonError,
	}
}

// usageLine is the command's usage line as docker prints it in errors:
// "berth container" for a group, "berth ps [OPTIONS]" for a command.
func usageLine(cmd *cobra.Command) string { return cmd.UseLine() }

// Argument validators with docker's messages.

func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	if cmd.HasSubCommands() {
		msg := fmt.Sprintf("%s: unknown command: %s %s\n\n", programName, cmd.CommandPath(), args[0])
		if cmd.HasParent() {
			msg += "Usage:  " + usageLine(cmd) + "\n\n"
		}
		return errors.New(msg + fmt.Sprintf("Run '%s --help' for more information", cmd.CommandPath()))
	}
	return argsError(cmd, "accepts no arguments", "Run")
}

// argsError is docker's message for a wrong number of arguments; hint is
// "See" or "Run", as docker words it for each kind of check.
func argsError(cmd *cobra.Command, what, hint string) error {
	return fmt.Errorf("%s: '%s' %s\n\nUsage:  %s\n\n%s '%s --help' for more information",
		programName, cmd.CommandPath(), what, usageLine(cmd), hint, cmd.CommandPath())
}

func pluralize(word string, n int) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

func minArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) >= n {
			return nil
		}
		return argsError(cmd, fmt.Sprintf("requires at least %d %s", n, pluralize("argument", n)), "See")
	}
}

func maxArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) <= n {
			return nil
		}
		return argsError(cmd, fmt.Sprintf("requires at most %d %s", n, pluralize("argument", n)), "Run")
	}
}

func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) == n {
			return nil
		}
		return argsError(cmd, fmt.Sprintf("requires %d %s", n, pluralize("argument", n)), "Run")
	}
}

func rangeArgs(lo, hi int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) >= lo && len(args) <= hi {
			return nil
		}
		return argsError(cmd, fmt.Sprintf("requires at least %d and at most %d %s", lo, hi, pluralize("argument", hi)), "Run")
	}
}

// newCommand builds a leaf command with docker's conventions: no "[flags]"
// suffix on the usage line.
func newCommand(use, short string, args cobra.PositionalArgs, run func(cmd *cobra.Command, args []string) error) *cobra.Command {
	return &cobra.Command{
		Use:                   use,
		Short:                 short,
		Args:                  args,
		RunE:                  run,
		DisableFlagsInUseLine: true,
		SilenceUsage:          true,
		SilenceErrors:         true,
	}
}

// filterFlag registers docker's -f/--filter list flag.
func filterFlag(fs *pflag.FlagSet, dst *[]string, withShort bool) {
	short := ""
	if withShort {
		short = "f"
	}
	fs.StringArrayVarP(dst, "filter", short, nil, `Filter output based on conditions provided`)
}

// parseFilters turns --filter key=value arguments into API filters.
func parseFilters(args []string) (client.Filters, error) {
	f := client.Filters{}
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			return nil, errors.New("bad format of filter (expected name=value)")
		}
		f.Add(strings.ToLower(strings.TrimSpace(k)), v)
	}
	return f, nil
}

const usageTemplate = `Usage:  {{if .HasAvailableSubCommands}}{{.CommandPath}}{{if not .HasParent}} [OPTIONS]{{end}} COMMAND{{else}}{{.UseLine}}{{end}}
{{with or .Long .Short}}
{{.}}
{{end}}{{if gt (len .Aliases) 0}}
Aliases:
  {{.NameAndAliases}}
{{end}}{{if .HasAvailableSubCommands}}
Commands:
{{range .Commands}}{{if .IsAvailableCommand}}  {{rpad .Name .NamePadding }} {{.Short}}
{{end}}{{end}}{{end}}{{if .HasAvailableLocalFlags}}
Options:
{{.LocalFlags.FlagUsages | trimTrailingWhitespaces}}
{{end}}{{if .HasAvailableSubCommands}}
Run '{{.CommandPath}} COMMAND --help' for more information on a command.
{{end}}`

const helpTemplate = `{{with or .Long .Short }}{{end}}{{.UsageString}}`
