package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

func (c *CLI) newImagesCommand() *cobra.Command {
	var all, quiet, noTrunc, digests bool
	var format string
	var filters []string
	cmd := newCommand("images [OPTIONS] [REPOSITORY[:TAG]]", "List images", maxArgs(1),
		func(cmd *cobra.Command, args []string) error {
			f, err := parseFilters(filters)
			if err != nil {
				return err
			}
			if len(args) == 1 {
				f.Add("reference", args[0])
			}
			api, err := c.client()
			if err != nil {
				return err
			}
			res, err := api.ImageList(cmd.Context(), client.ImageListOptions{All: all, Filters: f})
			if err != nil {
				return err
			}
			table := defaultImageTable
			if digests {
				table = defaultImageTableDigests
			}
			rows := imageRows(res.Items, digests || strings.Contains(format, ".Digest"), !noTrunc, c.now())
			return writeList(c.out, listFormat{format: format, defaultTable: table, quiet: quiet, quietFormat: "{{.ID}}"}, rows)
		})
	fs := cmd.Flags()
	fs.BoolVarP(&all, "all", "a", false, "Show all images (default hides intermediate images)")
	fs.BoolVar(&digests, "digests", false, "Show digests")
	filterFlag(fs, &filters, true)
	fs.StringVar(&format, "format", "", formatHelp)
	fs.BoolVar(&noTrunc, "no-trunc", false, "Don't truncate output")
	fs.BoolVarP(&quiet, "quiet", "q", false, "Only show image IDs")
	return cmd
}

func (c *CLI) newHistoryCommand() *cobra.Command {
	var human, noTrunc, quiet bool
	var format, platform string
	cmd := newCommand("history [OPTIONS] IMAGE", "Show the history of an image", exactArgs(1),
		func(cmd *cobra.Command, args []string) error {
			api, err := c.client()
			if err != nil {
				return err
			}
			var opts []client.ImageHistoryOption
			if platform != "" {
				p, err := parsePlatform(platform)
				if err != nil {
					return err
				}
				opts = append(opts, client.ImageHistoryWithPlatform(p))
			}
			res, err := api.ImageHistory(cmd.Context(), args[0], opts...)
			if err != nil {
				return err
			}
			now := c.now()
			rows := make([]historyContext, len(res.Items))
			for i, h := range res.Items {
				rows[i] = historyContext{h: h, trunc: !noTrunc, human: human, now: now}
			}
			return writeList(c.out, listFormat{format: format, defaultTable: defaultHistoryTable, quiet: quiet, quietFormat: "{{.ID}}"}, rows)
		})
	fs := cmd.Flags()
	fs.StringVar(&format, "format", "", formatHelp)
	fs.BoolVarP(&human, "human", "H", true, "Print sizes and dates in human readable format")
	fs.BoolVar(&noTrunc, "no-trunc", false, "Don't truncate output")
	fs.BoolVarP(&quiet, "quiet", "q", false, "Only show image IDs")
	fs.StringVar(&platform, "platform", "", "Show history for the given platform")
	return cmd
}

func (c *CLI) newTagCommand() *cobra.Command {
	return newCommand("tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]", "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE", exactArgs(2),
		func(cmd *cobra.Command, args []string) error {
			api, err := c.client()
			if err != nil {
				return err
			}
			_, err = api.ImageTag(cmd.Context(), client.ImageTagOptions{Source: args[0], Target: args[1]})
			return err
		})
}

func (c *CLI) newRmiCommand() *cobra.Command {
	var force, noPrune bool
	cmd := newCommand("rmi [OPTIONS] IMAGE [IMAGE...]", "Remove one or more images", minArgs(1),
		func(cmd *cobra.Command, args []string) error {
			api, err := c.client()
			if err != nil {
				return err
			}
			var errs []string
			for _, img := range args {
				res, err := api.ImageRemove(cmd.Context(), img, client.ImageRemoveOptions{Force: force, PruneChildren: !noPrune})
				if err != nil {
					errs = append(errs, err.Error())
					continue
				}
				printDeleted(c.out, res.Items, "Untagged: ", "Deleted: ")
			}
			return joinErrors(errs)
		})
	fs := cmd.Flags()
	fs.BoolVarP(&force, "force", "f", false, "Force removal of the image")
	fs.BoolVar(&noPrune, "no-prune", false, "Do not delete untagged parents")
	return cmd
}

func printDeleted(w io.Writer, items []image.DeleteResponse, untagged, deleted string) {
	for _, d := range items {
		if d.Untagged != "" {
			fmt.Fprintf(w, "%s%s\n", untagged, d.Untagged)
		}
		if d.Deleted != "" {
			fmt.Fprintf(w, "%s%s\n", deleted, d.Deleted)
		}
	}
}

// displayJSONStream renders a daemon progress stream (import, load).
func (c *CLI) displayJSONStream(r io.Reader) error { return displayJSONMessages(r, c.out) }

func (c *CLI) newImportCommand() *cobra.Command {
	var changes []string
	var message, platform string
	cmd := newCommand("import [OPTIONS] file|URL|- [REPOSITORY[:TAG]]", "Import the contents from a tarball to create a filesystem image", rangeArgs(1, 2),
		func(cmd *cobra.Command, args []string) error {
			src := client.ImageImportSource{SourceName: "-"}
			switch {
			case args[0] == "-":
				src.Source = c.in
			case strings.HasPrefix(args[0], "http://") || strings.HasPrefix(args[0], "https://"):
				src.SourceName = args[0]
			default:
				f, err := os.Open(args[0])
				if err != nil {
					return err
				}
				defer f.Close()
				src.Source = f
			}
			ref := ""
			if len(args) == 2 {
				ref = args[1]
			}
			opts := client.ImageImportOptions{Message: message, Changes: changes}
			if platform != "" {
				p, err := parsePlatform(platform)
				if err != nil {
					return err
				}
				opts.Platform = p
			}
			api, err := c.client()
			if err != nil {
				return err
			}
			rc, err := api.ImageImport(cmd.Context(), src, ref, opts)
			if err != nil {
				return err
			}
			defer rc.Close()
			return c.displayJSONStream(rc)
		})
	fs := cmd.Flags()
	fs.StringArrayVarP(&changes, "change", "c", nil, "Apply Dockerfile instruction to the created image")
	fs.StringVarP(&message, "message", "m", "", "Set commit message for imported image")
	fs.StringVar(&platform, "platform", "", "Set platform if server is multi-platform capable")
	return cmd
}

func (c *CLI) newLoadCommand() *cobra.Command {
	var input string
	var quiet bool
	cmd := newCommand("load [OPTIONS]", "Load an image from a tar archive or STDIN", noArgs,
		func(cmd *cobra.Command, _ []string) error {
			var in io.Reader = c.in
			if input != "" {
				f, err := os.Open(input)
				if err != nil {
					return err
				}
				defer f.Close()
				in = f
			} else if _, isTerm := c.stdinFd(); isTerm {
				return errors.New("requested load from stdin, but stdin is empty")
			}
			if _, isTerm := c.stdoutFd(); !isTerm {
				quiet = true
			}
			api, err := c.client()
			if err != nil {
				return err
			}
			rc, err := api.ImageLoad(cmd.Context(), in, client.ImageLoadWithQuiet(quiet))
			if err != nil {
				return err
			}
			defer rc.Close()
			return c.displayJSONStream(rc)
		})
	fs := cmd.Flags()
	fs.StringVarP(&input, "input", "i", "", "Read from tar archive file, instead of STDIN")
	fs.BoolVarP(&quiet, "quiet", "q", false, "Suppress the load output")
	return cmd
}

func (c *CLI) newSaveCommand() *cobra.Command {
	var output string
	cmd := newCommand("save [OPTIONS] IMAGE [IMAGE...]", "Save one or more images to a tar archive (streamed to STDOUT by default)", minArgs(1),
		func(cmd *cobra.Command, args []string) error {
			if output == "" {
				if _, isTerm := c.stdoutFd(); isTerm {
					return errors.New("cowardly refusing to save to a terminal. Use the -o flag or redirect")
				}
			}
			api, err := c.client()
			if err != nil {
				return err
			}
			rc, err := api.ImageSave(cmd.Context(), args)
			if err != nil {
				return err
			}
			defer rc.Close()
			if output == "" {
				_, err := io.Copy(c.out, rc)
				return err
			}
			return writeFileAtomic(output, rc)
		})
	cmd.Flags().StringVarP(&output, "output", "o", "", "Write to a file, instead of STDOUT")
	return cmd
}

// writeFileAtomic writes r to path through a temporary file in the same
// directory, so a failed save leaves no partial archive.
func writeFileAtomic(path string, r io.Reader) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".berth-save-*")
	if err != nil {
		return fmt.Errorf("failed to save image: %w", err)
	}
	if _, err := io.Copy(tmp, r); err != nil {
		_ = tmp.Close()
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("failed to save image: %w", err)
	}
	if err := tmp.Close(); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("failed to save image: %w", err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("failed to save image: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("failed to save image: %w", err)
	}
	return nil
}

func (c *CLI) newImagePruneCommand() *cobra.Command {
	var all, force, dryRun bool
	var filters []string
	cmd := newCommand("prune [OPTIONS]", "Remove unused images", noArgs,
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
				imgs, err := api.ImageList(ctx, client.ImageListOptions{})
				if err != nil {
					return err
				}
				cs, err := api.ContainerList(ctx, client.ContainerListOptions{All: true})
				if err != nil {
					return err
				}
				sel := selectImagesToPrune(imgs.Items, imagesInUse(cs.Items), all, pf)
				c.printImageDryRun(sel)
				return nil
			}
			warning := "WARNING! This will remove all dangling images."
			if all {
				warning = "WARNING! This will remove all images without at least one container associated to them."
			}
			if !force && !c.confirm(warning+"\nAre you sure you want to continue?") {
				return nil
			}
			f, _ := parseFilters(filters)
			f.Add("dangling", fmt.Sprint(!all))
			res, err := api.ImagePrune(ctx, client.ImagePruneOptions{Filters: f})
			if err != nil {
				return err
			}
			if len(res.Report.ImagesDeleted) > 0 {
				fmt.Fprintln(c.out, "Deleted Images:")
				printDeleted(c.out, res.Report.ImagesDeleted, "untagged: ", "deleted: ")
				fmt.Fprintln(c.out)
			}
			fmt.Fprintf(c.out, "Total reclaimed space: %s\n", units.HumanSize(float64(res.Report.SpaceReclaimed)))
			return nil
		})
	fs := cmd.Flags()
	fs.BoolVarP(&all, "all", "a", false, "Remove all unused images, not just dangling ones")
	filterFlag(fs, &filters, false)
	fs.BoolVarP(&force, "force", "f", false, "Do not prompt for confirmation")
	fs.BoolVar(&dryRun, "dry-run", false, "List what would be removed, without removing anything")
	return cmd
}

// printImageDryRun lists the images a prune would delete and their size.
func (c *CLI) printImageDryRun(sel []image.Summary) {
	var space int64
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
}

// rawInspectImage inspects an image and returns its typed and raw forms.
func rawInspectImage(cmd *cobra.Command, api *client.Client, ref string) (any, []byte, error) {
	var raw bytes.Buffer
	res, err := api.ImageInspect(cmd.Context(), ref, client.ImageInspectWithRawResponse(&raw))
	if err != nil {
		return nil, nil, err
	}
	return res.InspectResponse, raw.Bytes(), nil
}
