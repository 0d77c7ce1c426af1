package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/volume"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

// Confirmation texts of `volume prune`.
const (
	volumePruneWarning    = "WARNING! This will remove anonymous local volumes not used by at least one container.\nAre you sure you want to continue?"
	volumePruneAllWarning = "WARNING! This will remove all local volumes not used by at least one container.\nAre you sure you want to continue?"
)

const inspectFormatHelp = "Format output using a custom template:\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template"

func (c *CLI) newVolumeGroup() *cobra.Command {
	// docker's volume group, unlike the others, names COMMAND in its usage line.
	g := newCommand("volume COMMAND", "Manage volumes", noArgs, showHelp)
	g.AddCommand(c.newVolumeCreateCommand(), c.newVolumeInspectCommand(), c.newVolumeLsCommand(),
		c.newVolumePruneCommand(), c.newVolumeRmCommand())
	return g
}

func (c *CLI) newVolumeCreateCommand() *cobra.Command {
	var driver, name string
	var opts optMap
	var labels labelList
	cmd := newCommand("create [OPTIONS] [VOLUME]", "Create a volume", maxArgs(1),
		func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				if name != "" {
					return errors.New("conflicting options: cannot specify a volume-name through both --name and as a positional arg")
				}
				name = args[0]
			}
			api, err := c.client()
			if err != nil {
				return err
			}
			res, err := api.VolumeCreate(cmd.Context(), client.VolumeCreateOptions{
				Name: name, Driver: driver, DriverOpts: opts.Map(), Labels: labels.Map(),
			})
			if err != nil {
				return err
			}
			fmt.Fprintln(c.out, res.Volume.Name)
			return nil
		})
	fs := cmd.Flags()
	fs.StringVarP(&driver, "driver", "d", "local", "Specify volume driver name")
	fs.StringVar(&name, "name", "", "Specify volume name")
	_ = fs.MarkHidden("name")
	fs.VarP(&opts, "opt", "o", "Set driver specific options")
	fs.Var(&labels, "label", "Set metadata for a volume")
	return cmd
}

func (c *CLI) newVolumeInspectCommand() *cobra.Command {
	var format string
	cmd := newCommand("inspect [OPTIONS] VOLUME [VOLUME...]", "Display detailed information on one or more volumes", minArgs(1),
		func(cmd *cobra.Command, args []string) error {
			api, err := c.client()
			if err != nil {
				return err
			}
			return c.inspectEach(args, format, func(ref string) (any, []byte, error) {
				res, err := api.VolumeInspect(cmd.Context(), ref, client.VolumeInspectOptions{})
				return res.Volume, res.Raw, err
			})
		})
	cmd.Flags().StringVarP(&format, "format", "f", "", inspectFormatHelp)
	return cmd
}

func (c *CLI) newVolumeLsCommand() *cobra.Command {
	var quiet bool
	var format string
	var filters []string
	cmd := newCommand("ls [OPTIONS]", "List volumes", noArgs,
		func(cmd *cobra.Command, _ []string) error {
			f, err := parseFilters(filters)
			if err != nil {
				return err
			}
			api, err := c.client()
			if err != nil {
				return err
			}
			res, err := api.VolumeList(cmd.Context(), client.VolumeListOptions{Filters: f})
			if err != nil {
				return err
			}
			return writeList(c.out, listFormat{format: format, defaultTable: defaultVolumeTable, quiet: quiet, quietFormat: volumeQuietFormat}, volumeRows(res.Items))
		})
	cmd.Aliases = []string{"list"}
	fs := cmd.Flags()
	fs.StringArrayVarP(&filters, "filter", "f", nil, `Provide filter values (e.g. "dangling=true")`)
	fs.StringVar(&format, "format", "", formatHelp)
	fs.BoolVarP(&quiet, "quiet", "q", false, "Only display volume names")
	return cmd
}

func (c *CLI) newVolumeRmCommand() *cobra.Command {
	var force bool
	cmd := newCommand("rm [OPTIONS] VOLUME [VOLUME...]", "Remove one or more volumes", minArgs(1),
		func(cmd *cobra.Command, args []string) error {
			api, err := c.client()
			if err != nil {
				return err
			}
			var errs []string
			for _, name := range args {
				if _, err := api.VolumeRemove(cmd.Context(), name, client.VolumeRemoveOptions{Force: force}); err != nil {
					errs = append(errs, err.Error())
					continue
				}
				fmt.Fprintln(c.out, name)
			}
			return joinErrors(errs)
		})
	cmd.Long = "Remove one or more volumes. You cannot remove a volume that is in use by a container."
	cmd.Aliases = []string{"remove"}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "Force the removal of one or more volumes")
	return cmd
}

func (c *CLI) newVolumePruneCommand() *cobra.Command {
	var all, force, dryRun bool
	var filters []string
	cmd := newCommand("prune [OPTIONS]", "Remove unused local volumes", noArgs,
		func(cmd *cobra.Command, _ []string) error {
			f, err := parseFilters(filters)
			if err != nil {
				return err
			}
			if all && hasFilter(filters, "all") {
				return errors.New("conflicting options: cannot specify both --all and --filter all=1")
			}
			api, err := c.client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if dryRun {
				vf, err := parseVolumePruneFilters(filters)
				if err != nil {
					return err
				}
				return c.volumePruneDryRun(ctx, api, vf, all)
			}
			warning := volumePruneWarning
			if all {
				warning = volumePruneAllWarning
			}
			if !force && !c.confirm(warning) {
				return nil
			}
			res, err := api.VolumePrune(ctx, client.VolumePruneOptions{All: all, Filters: f})
			if err != nil {
				return err
			}
			printSection(c.out, "Deleted Volumes:", res.Report.VolumesDeleted)
			fmt.Fprintf(c.out, "Total reclaimed space: %s\n", units.HumanSize(float64(res.Report.SpaceReclaimed)))
			return nil
		})
	fs := cmd.Flags()
	fs.BoolVarP(&all, "all", "a", false, "Remove all unused volumes, not just anonymous ones")
	fs.StringArrayVar(&filters, "filter", nil, `Provide filter values (e.g. "label=<label>")`)
	fs.BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	fs.BoolVar(&dryRun, "dry-run", false, "List what would be removed, without removing anything")
	return cmd
}

// hasFilter reports whether a --filter argument has the key.
func hasFilter(args []string, key string) bool {
	for _, a := range args {
		k, _, _ := strings.Cut(a, "=")
		if strings.EqualFold(strings.TrimSpace(k), key) {
			return true
		}
	}
	return false
}

// volumePruneDryRun lists what `volume prune` would remove, with the
// daemon's rules applied to the volume and container lists.
func (c *CLI) volumePruneDryRun(ctx context.Context, api *client.Client, f volumePruneFilter, all bool) error {
	vols, err := api.VolumeList(ctx, client.VolumeListOptions{})
	if err != nil {
		return err
	}
	cs, err := api.ContainerList(ctx, client.ContainerListOptions{All: true})
	if err != nil {
		return err
	}
	sel := selectVolumesToPrune(vols.Items, cs.Items, all || f.all, f.pruneFilter)
	printSection(c.out, "Would delete Volumes:", volumeNames(sel))
	fmt.Fprintf(c.out, "Total reclaimable space: %s\n", units.HumanSize(float64(volumesSize(sel))))
	return nil
}

// volumeNames returns the names of vols.
func volumeNames(vols []volume.Volume) []string {
	names := make([]string, len(vols))
	for i, v := range vols {
		names[i] = v.Name
	}
	return names
}

// volumesSize adds up the known sizes of vols.
func volumesSize(vols []volume.Volume) int64 {
	var n int64
	for _, v := range vols {
		if v.UsageData != nil && v.UsageData.Size > 0 {
			n += v.UsageData.Size
		}
	}
	return n
}
