package cli

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

func (c *CLI) newCommitCommand() *cobra.Command {
	var (
		author, message string
		changes         []string
		pause           bool
	)
	cmd := newCommand("commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]", "Create a new image from a container's changes", rangeArgs(1, 2),
		func(cmd *cobra.Command, args []string) error {
			api, err := c.client()
			if err != nil {
				return err
			}
			o := client.ContainerCommitOptions{Comment: message, Author: author, Changes: changes, NoPause: !pause}
			if len(args) == 2 {
				o.Reference = args[1]
			}
			res, err := api.ContainerCommit(cmd.Context(), args[0], o)
			if err != nil {
				return err
			}
			fmt.Fprintln(c.out, res.ID)
			return nil
		})
	f := cmd.Flags()
	f.StringVarP(&author, "author", "a", "", `Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")`)
	f.StringArrayVarP(&changes, "change", "c", nil, "Apply Dockerfile instruction to the created image")
	f.StringVarP(&message, "message", "m", "", "Commit message")
	f.BoolVarP(&pause, "pause", "p", true, "Pause container during commit")
	return cmd
}

func (c *CLI) newDiffCommand() *cobra.Command {
	return newCommand("diff CONTAINER", "Inspect changes to files or directories on a container's filesystem", exactArgs(1),
		func(cmd *cobra.Command, args []string) error {
			api, err := c.client()
			if err != nil {
				return err
			}
			res, err := api.ContainerDiff(cmd.Context(), args[0], client.ContainerDiffOptions{})
			if err != nil {
				return err
			}
			for _, ch := range res.Changes {
				fmt.Fprintln(c.out, changeLetter(ch.Kind), ch.Path)
			}
			return nil
		})
}

// changeLetter is docker diff's letter for a kind of change.
func changeLetter(k container.ChangeType) string {
	switch k {
	case container.ChangeAdd:
		return "A"
	case container.ChangeDelete:
		return "D"
	}
	return "C"
}

func (c *CLI) newExportCommand() *cobra.Command {
	var output string
	cmd := newCommand("export [OPTIONS] CONTAINER", "Export a container's filesystem as a tar archive", exactArgs(1),
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
			rc, err := api.ContainerExport(cmd.Context(), args[0], client.ContainerExportOptions{})
			if err != nil {
				return err
			}
			defer rc.Close()
			if output == "" {
				_, err := io.Copy(c.out, rc)
				return err
			}
			f, err := os.Create(output)
			if err != nil {
				return fmt.Errorf("failed to export container: %w", err)
			}
			if _, err := io.Copy(f, rc); err != nil {
				f.Close()
				return fmt.Errorf("failed to export container: %w", err)
			}
			return f.Close()
		})
	cmd.Flags().StringVarP(&output, "output", "o", "", "Write to a file, instead of STDOUT")
	return cmd
}
