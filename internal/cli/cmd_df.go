package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/volume"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

const defaultDiskUsageTable = "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}"

// diskUsageContext is one row of `system df`.
type diskUsageContext struct {
	kind                      string
	total, active, size, recl int64
	percent                   bool
	hdr                       bool
}

var _ formatter = diskUsageContext{}

func (x diskUsageContext) header() any { x.hdr = true; return x }

func (diskUsageContext) fields() []string {
	return []string{"Active", "Reclaimable", "Size", "TotalCount", "Type"}
}

// Type names the kind of object.
func (x diskUsageContext) Type() string {
	if x.hdr {
		return "TYPE"
	}
	return x.kind
}

// TotalCount is the number of objects.
func (x diskUsageContext) TotalCount() string {
	if x.hdr {
		return "TOTAL"
	}
	return strconv.FormatInt(x.total, 10)
}

// Active is the number of objects in use.
func (x diskUsageContext) Active() string {
	if x.hdr {
		return "ACTIVE"
	}
	return strconv.FormatInt(x.active, 10)
}

// Size is the disk space the objects use.
func (x diskUsageContext) Size() string {
	if x.hdr {
		return "SIZE"
	}
	return units.HumanSize(float64(x.size))
}

// Reclaimable is the space prune would free, with its share of Size.
func (x diskUsageContext) Reclaimable() string {
	if x.hdr {
		return "RECLAIMABLE"
	}
	s := units.HumanSize(float64(x.recl))
	if x.percent && x.size > 0 {
		s = fmt.Sprintf("%s (%d%%)", s, x.recl*100/x.size)
	}
	return s
}

// diskUsageRows builds the `system df` summary rows.
func diskUsageRows(du client.DiskUsageResult) []diskUsageContext {
	return []diskUsageContext{
		{kind: "Images", total: du.Images.TotalCount, active: du.Images.ActiveCount, size: du.Images.TotalSize, recl: du.Images.Reclaimable, percent: true},
		{kind: "Containers", total: du.Containers.TotalCount, active: du.Containers.ActiveCount, size: du.Containers.TotalSize, recl: du.Containers.Reclaimable, percent: true},
		{kind: "Local Volumes", total: du.Volumes.TotalCount, active: du.Volumes.ActiveCount, size: du.Volumes.TotalSize, recl: du.Volumes.Reclaimable, percent: true},
		{kind: "Build Cache", total: du.BuildCache.TotalCount, active: du.BuildCache.ActiveCount, size: du.BuildCache.TotalSize, recl: du.BuildCache.Reclaimable},
	}
}

func (c *CLI) newDfCommand() *cobra.Command {
	var verbose bool
	var format string
	cmd := newCommand("df [OPTIONS]", "Show docker disk usage", noArgs,
		func(cmd *cobra.Command, _ []string) error {
			api, err := c.client()
			if err != nil {
				return err
			}
			du, err := api.DiskUsage(cmd.Context(), client.DiskUsageOptions{
				Containers: true, Images: true, Volumes: true, BuildCache: true, Verbose: verbose})
			if err != nil {
				return err
			}
			if du.Volumes.TotalCount == 0 && len(du.Volumes.Items) == 0 {
				vdu, err := volumeUsage(cmd.Context(), api)
				if err != nil {
					return err
				}
				du.Volumes = vdu
			}
			if !verbose {
				return writeList(c.out, listFormat{format: format, defaultTable: defaultDiskUsageTable}, diskUsageRows(du))
			}
			return c.writeDiskUsageVerbose(du)
		})
	fs := cmd.Flags()
	fs.StringVar(&format, "format", "", formatHelp)
	fs.BoolVarP(&verbose, "verbose", "v", false, "Show detailed information on space usage")
	return cmd
}

// volumeUsage computes the volume lines of `system df` from the volume and
// container lists, for a daemon whose /system/df does not count volumes:
// a volume is active (and its links counted) when a container mounts it;
// sizes are those the daemon reports, or 0.
func volumeUsage(ctx context.Context, api *client.Client) (client.VolumesDiskUsage, error) {
	vols, err := api.VolumeList(ctx, client.VolumeListOptions{})
	if err := optional(err); err != nil {
		return client.VolumesDiskUsage{}, err
	}
	cs, err := api.ContainerList(ctx, client.ContainerListOptions{All: true})
	if err != nil {
		return client.VolumesDiskUsage{}, err
	}
	return summarizeVolumes(vols.Items, cs.Items), nil
}

// summarizeVolumes counts volumes, their links from containers, and the
// space that removing the unused ones would free.
func summarizeVolumes(vols []volume.Volume, cs []container.Summary) client.VolumesDiskUsage {
	links := map[string]int64{}
	for _, c := range cs {
		for _, m := range c.Mounts {
			if m.Name != "" {
				links[m.Name]++
			}
		}
	}
	du := client.VolumesDiskUsage{TotalCount: int64(len(vols))}
	for _, v := range vols {
		size := int64(-1)
		if v.UsageData != nil {
			size = v.UsageData.Size
		}
		n := links[v.Name]
		if v.UsageData != nil && v.UsageData.RefCount > n {
			n = v.UsageData.RefCount
		}
		if n > 0 {
			du.ActiveCount++
		}
		if size > 0 {
			du.TotalSize += size
			if n == 0 {
				du.Reclaimable += size
			}
		}
		v.UsageData = &volume.UsageData{RefCount: n, Size: size}
		du.Items = append(du.Items, v)
	}
	return du
}

// writeDiskUsageVerbose prints `system df -v`.
func (c *CLI) writeDiskUsageVerbose(du client.DiskUsageResult) error {
	now := c.now()
	fmt.Fprintf(c.out, "Images space usage:\n\n")
	rows := imageRows(du.Images.Items, false, true, now)
	if err := writeList(c.out, listFormat{defaultTable: "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}"}, rows); err != nil {
		return err
	}
	fmt.Fprintf(c.out, "\nContainers space usage:\n\n")
	crows := make([]containerContext, len(du.Containers.Items))
	for i, it := range du.Containers.Items {
		crows[i] = containerContext{c: it, trunc: true, now: now}
	}
	if err := writeList(c.out, listFormat{defaultTable: "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.RunningFor}}\t{{.Status}}\t{{.Names}}"}, crows); err != nil {
		return err
	}
	fmt.Fprintf(c.out, "\nLocal Volumes space usage:\n\n")
	tw := tabwriter.NewWriter(c.out, 10, 1, 3, ' ', 0)
	fmt.Fprintln(tw, "VOLUME NAME\tLINKS\tSIZE")
	for _, v := range du.Volumes.Items {
		links, size := "N/A", "N/A"
		if v.UsageData != nil {
			links = strconv.FormatInt(v.UsageData.RefCount, 10)
			if v.UsageData.Size >= 0 {
				size = units.HumanSize(float64(v.UsageData.Size))
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", v.Name, links, size)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(c.out, "\nBuild cache usage: %s\n\n", units.HumanSize(float64(du.BuildCache.TotalSize)))
	tw = tabwriter.NewWriter(c.out, 10, 1, 3, ' ', 0)
	fmt.Fprintln(tw, "CACHE ID\tCACHE TYPE\tSIZE\tCREATED\tLAST USED\tUSAGE\tSHARED")
	for _, r := range du.BuildCache.Items {
		id := truncateID(r.ID)
		if r.InUse {
			id += "*"
		}
		lastUsed := ""
		if r.LastUsedAt != nil {
			lastUsed = units.HumanDuration(now.Sub(*r.LastUsedAt)) + " ago"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%t\n", id, r.Type, units.HumanSizeWithPrecision(float64(r.Size), 3),
			units.HumanDuration(now.Sub(r.CreatedAt))+" ago", lastUsed, r.UsageCount, r.Shared)
	}
	return tw.Flush()
}

func (c *CLI) newSystemPruneCommand() *cobra.Command {
	var all, force, volumes, dryRun bool
	var filters []string
	cmd := newCommand("prune [OPTIONS]", "Remove unused data", noArgs,
		func(cmd *cobra.Command, _ []string) error {
			pf, err := parsePruneFilters(filters, c.now())
			if err != nil {
				return err
			}
			if volumes && hasFilter(filters, "until") {
				return errors.New(`ERROR: The "until" filter is not supported with "--volumes"`)
			}
			api, err := c.client()
			if err != nil {
				return err
			}
			if dryRun {
				return c.systemPruneDryRun(cmd.Context(), api, pf, all, volumes)
			}
			if !force && !c.confirm(systemPruneWarning(all, volumes)) {
				return nil
			}
			return c.systemPrune(cmd.Context(), api, filters, all, volumes)
		})
	fs := cmd.Flags()
	fs.BoolVarP(&all, "all", "a", false, "Remove all unused images not just dangling ones")
	filterFlag(fs, &filters, false)
	fs.BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	fs.BoolVar(&volumes, "volumes", false, "Prune anonymous volumes")
	fs.BoolVar(&dryRun, "dry-run", false, "List what would be removed, without removing anything")
	return cmd
}

// systemPruneWarning is the confirmation text of `system prune`.
func systemPruneWarning(all, volumes bool) string {
	var b strings.Builder
	b.WriteString("WARNING! This will remove:\n")
	b.WriteString("  - all stopped containers\n")
	b.WriteString("  - all networks not used by at least one container\n")
	if volumes {
		b.WriteString("  - all anonymous volumes not used by at least one container\n")
	}
	if all {
		b.WriteString("  - all images without at least one container associated to them\n")
		b.WriteString("  - all build cache\n")
	} else {
		b.WriteString("  - all dangling images\n")
		b.WriteString("  - unused build cache\n")
	}
	b.WriteString("\nAre you sure you want to continue?")
	return b.String()
}

// optional turns "this daemon has no such endpoint" into no error, so
// system prune works against a daemon without networks or a builder.
func optional(err error) error {
	if err == nil || cerrdefs.IsNotFound(err) || cerrdefs.IsNotImplemented(err) {
		return nil
	}
	return err
}

func (c *CLI) systemPrune(ctx context.Context, api *client.Client, filterArgs []string, all, volumes bool) error {
	f, err := parseFilters(filterArgs)
	if err != nil {
		return err
	}
	var space uint64
	cr, err := api.ContainerPrune(ctx, client.ContainerPruneOptions{Filters: f.Clone()})
	if err != nil {
		return err
	}
	printSection(c.out, "Deleted Containers:", cr.Report.ContainersDeleted)
	space += cr.Report.SpaceReclaimed
	nr, err := api.NetworkPrune(ctx, client.NetworkPruneOptions{Filters: f.Clone()})
	if err := optional(err); err != nil {
		return err
	}
	printSection(c.out, "Deleted Networks:", nr.Report.NetworksDeleted)
	if volumes {
		vr, err := api.VolumePrune(ctx, client.VolumePruneOptions{Filters: f.Clone()})
		if err := optional(err); err != nil {
			return err
		}
		printSection(c.out, "Deleted Volumes:", vr.Report.VolumesDeleted)
		space += vr.Report.SpaceReclaimed
	}
	imf := f.Clone()
	imf.Add("dangling", strconv.FormatBool(!all))
	ir, err := api.ImagePrune(ctx, client.ImagePruneOptions{Filters: imf})
	if err != nil {
		return err
	}
	if len(ir.Report.ImagesDeleted) > 0 {
		fmt.Fprintln(c.out, "Deleted Images:")
		printDeleted(c.out, ir.Report.ImagesDeleted, "untagged: ", "deleted: ")
		fmt.Fprintln(c.out)
	}
	space += ir.Report.SpaceReclaimed
	br, err := api.BuildCachePrune(ctx, client.BuildCachePruneOptions{All: all, Filters: f.Clone()})
	if err := optional(err); err != nil {
		return err
	}
	printSection(c.out, "Deleted build cache objects:", br.Report.CachesDeleted)
	space += br.Report.SpaceReclaimed
	fmt.Fprintf(c.out, "Total reclaimed space: %s\n", units.HumanSize(float64(space)))
	return nil
}

func printSection(w io.Writer, title string, ids []string) {
	if len(ids) == 0 {
		return
	}
	fmt.Fprintln(w, title)
	for _, id := range ids {
		fmt.Fprintln(w, id)
	}
	fmt.Fprintln(w)
}

// systemPruneDryRun lists what `system prune` would remove, computed from
// the list endpoints with the daemon's selection rules: images are judged
// against the containers that would remain.
func (c *CLI) systemPruneDryRun(ctx context.Context, api *client.Client, pf pruneFilter, all, volumes bool) error {
	cs, err := api.ContainerList(ctx, client.ContainerListOptions{All: true, Size: true})
	if err != nil {
		return err
	}
	gone := selectContainersToPrune(cs.Items, pf)
	left := remaining(cs.Items, gone)
	var space int64
	ids := make([]string, len(gone))
	for i, ct := range gone {
		ids[i] = ct.ID
		space += ct.SizeRw
	}
	printSection(c.out, "Would delete Containers:", ids)

	nets, err := api.NetworkList(ctx, client.NetworkListOptions{})
	if err := optional(err); err != nil {
		return err
	}
	var names []string
	for _, n := range selectNetworksToPrune(nets.Items, left, pf) {
		names = append(names, n.Name)
	}
	printSection(c.out, "Would delete Networks:", names)

	if volumes {
		vols, err := api.VolumeList(ctx, client.VolumeListOptions{})
		if err := optional(err); err != nil {
			return err
		}
		var vnames []string
		for _, v := range selectVolumesToPrune(vols.Items, left, false, pf) {
			vnames = append(vnames, v.Name)
			if v.UsageData != nil && v.UsageData.Size > 0 {
				space += v.UsageData.Size
			}
		}
		printSection(c.out, "Would delete Volumes:", vnames)
	}

	imgs, err := api.ImageList(ctx, client.ImageListOptions{})
	if err != nil {
		return err
	}
	sel := selectImagesToPrune(imgs.Items, imagesInUse(left), all, pf)
	if len(sel) > 0 {
		fmt.Fprintln(c.out, "Would delete Images:")
		for _, img := range sel {
			for _, t := range img.RepoTags {
				if t != "<none>:<none>" {
					fmt.Fprintf(c.out, "untagged: %s\n", t)
				}
			}
			fmt.Fprintf(c.out, "deleted: %s\n", img.ID)
			space += img.Size
		}
		fmt.Fprintln(c.out)
	}
	fmt.Fprintf(c.out, "Total reclaimable space: %s\n", units.HumanSize(float64(space)))
	return nil
}
