package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/distribution/reference"
	"github.com/moby/moby/client"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// showProgress renders a pull or push stream: a line per layer with its
// bar on a terminal, lines otherwise, nothing but errors with quiet.
func (c *CLI) showProgress(r io.Reader, quiet bool) error {
	if quiet {
		return displayJSONMessages(r, io.Discard)
	}
	if _, isTerm := c.stdoutFd(); !isTerm {
		return displayJSONMessages(r, c.out)
	}
	return displayProgressTTY(r, c.out)
}

func (c *CLI) newPullCommand() *cobra.Command {
	var all, quiet bool
	var platform string
	cmd := newCommand("pull [OPTIONS] NAME[:TAG|@DIGEST]", "Download an image from a registry", exactArgs(1),
		func(cmd *cobra.Command, args []string) error {
			named, err := reference.ParseNormalizedNamed(args[0])
			if err != nil {
				return err
			}
			if all && !reference.IsNameOnly(named) {
				return errors.New("tag can't be used with --all-tags/-a")
			}
			if !all && reference.IsNameOnly(named) {
				named = reference.TagNameOnly(named)
				if !quiet {
					fmt.Fprintln(c.out, "Using default tag: latest")
				}
			}
			opts := client.ImagePullOptions{All: all}
			if platform != "" {
				p, err := parsePlatform(platform)
				if err != nil {
					return err
				}
				opts.Platforms = []ocispec.Platform{p}
			}
			if opts.RegistryAuth, err = c.registryAuth(cmd.Context(), named.String()); err != nil {
				return err
			}
			api, err := c.client()
			if err != nil {
				return err
			}
			resp, err := api.ImagePull(cmd.Context(), named.String(), opts)
			if err != nil {
				return err
			}
			defer resp.Close()
			if err := c.showProgress(resp, quiet); err != nil {
				return err
			}
			if !all {
				fmt.Fprintln(c.out, named.String())
			}
			return nil
		})
	fs := cmd.Flags()
	fs.BoolVarP(&all, "all-tags", "a", false, "Download all tagged images in the repository")
	fs.BoolVarP(&quiet, "quiet", "q", false, "Suppress verbose output")
	fs.StringVar(&platform, "platform", "", "Set platform if server is multi-platform capable")
	fs.Bool("disable-content-trust", true, "Skip image verification")
	_ = fs.MarkHidden("disable-content-trust")
	return cmd
}

func (c *CLI) newPushCommand() *cobra.Command {
	var all, quiet bool
	var platform string
	cmd := newCommand("push [OPTIONS] NAME[:TAG]", "Upload an image to a registry", exactArgs(1),
		func(cmd *cobra.Command, args []string) error {
			named, err := reference.ParseNormalizedNamed(args[0])
			if err != nil {
				return err
			}
			if all && !reference.IsNameOnly(named) {
				return errors.New("tag can't be used with --all-tags/-a")
			}
			if !all && reference.IsNameOnly(named) {
				named = reference.TagNameOnly(named)
				if !quiet {
					fmt.Fprintln(c.out, "Using default tag: latest")
				}
			}
			opts := client.ImagePushOptions{All: all}
			if platform != "" {
				p, err := parsePlatform(platform)
				if err != nil {
					return err
				}
				opts.Platform = &p
			}
			if opts.RegistryAuth, err = c.registryAuth(cmd.Context(), named.String()); err != nil {
				return err
			}
			api, err := c.client()
			if err != nil {
				return err
			}
			resp, err := api.ImagePush(cmd.Context(), named.String(), opts)
			if err != nil {
				return err
			}
			defer resp.Close()
			if err := c.showProgress(resp, quiet); err != nil {
				return err
			}
			if quiet {
				fmt.Fprintln(c.out, named.String())
			}
			return nil
		})
	fs := cmd.Flags()
	fs.BoolVarP(&all, "all-tags", "a", false, "Push all tags of an image to the repository")
	fs.BoolVarP(&quiet, "quiet", "q", false, "Suppress verbose output")
	fs.StringVar(&platform, "platform", "", "Push a platform-specific manifest as a single-platform image to the registry")
	fs.Bool("disable-content-trust", true, "Skip image signing")
	_ = fs.MarkHidden("disable-content-trust")
	return cmd
}

func (c *CLI) newLoginCommand() *cobra.Command {
	var user, password string
	var passwordStdin bool
	cmd := newCommand("login [OPTIONS] [SERVER]", "Authenticate to a registry", rangeArgs(0, 1),
		func(cmd *cobra.Command, args []string) error {
			server := ""
			if len(args) == 1 {
				server = args[0]
			}
			key := serverKey(server)
			if c.reader == nil {
				c.reader = bufio.NewReader(c.in)
			}
			if passwordStdin {
				if user == "" {
					return errors.New("must provide --username with --password-stdin")
				}
				b, err := io.ReadAll(c.reader)
				if err != nil {
					return err
				}
				password = strings.TrimRight(string(b), "\r\n")
			}
			if password != "" && !passwordStdin {
				fmt.Fprintln(c.err, "WARNING! Using --password via the CLI is insecure. Use --password-stdin.")
			}
			if user == "" {
				fmt.Fprintf(c.out, "Username: ")
				line, _ := c.reader.ReadString('\n')
				user = strings.TrimSpace(line)
				if user == "" {
					return errors.New("Error: Non-null Username Required")
				}
			}
			if password == "" {
				fmt.Fprintf(c.out, "Password: ")
				if fd, isTerm := c.stdinFd(); isTerm {
					b, err := term.ReadPassword(fd)
					fmt.Fprintln(c.out)
					if err != nil {
						return err
					}
					password = string(b)
				} else {
					line, _ := c.reader.ReadString('\n')
					password = strings.TrimRight(line, "\r\n")
				}
				if password == "" {
					return errors.New("Error: Password Required")
				}
			}
			api, err := c.client()
			if err != nil {
				return err
			}
			res, err := api.RegistryLogin(cmd.Context(), client.RegistryLoginOptions{Username: user, Password: password, ServerAddress: key})
			if err != nil {
				return err
			}
			f, err := c.loadCredentials()
			if err != nil {
				return err
			}
			auth := res.Auth
			stored := f.helper(key) == ""
			if err := f.store(cmd.Context(), key, authConfig(user, password, auth.IdentityToken)); err != nil {
				return fmt.Errorf("error saving credentials: %w", err)
			}
			if stored {
				fmt.Fprintf(c.err, "WARNING! Your credentials are stored unencrypted in '%s'.\nConfigure a credential helper to remove this warning. See\nhttps://docs.docker.com/go/credential-store/\n\n", f.path)
			}
			fmt.Fprintln(c.out, auth.Status)
			return nil
		})
	fs := cmd.Flags()
	fs.StringVarP(&user, "username", "u", "", "Username")
	fs.StringVarP(&password, "password", "p", "", "Password or Personal Access Token (PAT)")
	fs.BoolVar(&passwordStdin, "password-stdin", false, "Take the Password or Personal Access Token (PAT) from stdin")
	return cmd
}

func (c *CLI) newLogoutCommand() *cobra.Command {
	return newCommand("logout [SERVER]", "Log out from a registry", rangeArgs(0, 1),
		func(cmd *cobra.Command, args []string) error {
			server := ""
			if len(args) == 1 {
				server = args[0]
			}
			key := serverKey(server)
			f, err := c.loadCredentials()
			if err != nil {
				return err
			}
			had, err := f.erase(cmd.Context(), key)
			if err != nil {
				return err
			}
			if !had {
				fmt.Fprintf(c.out, "Not logged in to %s\n", key)
				return nil
			}
			fmt.Fprintf(c.out, "Removing login credentials for %s\n", key)
			return nil
		})
}
