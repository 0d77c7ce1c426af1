package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sort"
	"strings"
	"text/tabwriter"
	"text/template"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/system"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

// clientVersion is the Client part of `version` and `info`.
type clientVersion struct {
	Version           string
	APIVersion        string `json:"ApiVersion"`
	DefaultAPIVersion string `json:"DefaultAPIVersion,omitempty"`
	GoVersion         string
	Os                string
	Arch              string
	Context           string
}

// serverVersion is the Server part of `version`.
type serverVersion struct {
	Platform      struct{ Name string }
	Version       string
	APIVersion    string `json:"ApiVersion"`
	MinAPIVersion string `json:"MinAPIVersion,omitempty"`
	Os            string
	Arch          string
	Components    []system.ComponentVersion
}

// versionInfo is what `version --format` templates see.
type versionInfo struct {
	Client clientVersion
	Server *serverVersion
}

const versionTemplate = `Client:
 Version:	{{.Client.Version}}
 API version:	{{.Client.APIVersion}}{{if ne .Client.APIVersion .Client.DefaultAPIVersion}} (downgraded from {{.Client.DefaultAPIVersion}}){{end}}
 Go version:	{{.Client.GoVersion}}
 OS/Arch:	{{.Client.Os}}/{{.Client.Arch}}
 Context:	{{.Client.Context}}
{{- if .Server}}{{with .Server}}

Server:{{if ne .Platform.Name ""}} {{.Platform.Name}}{{end}}
{{- range $component := .Components}}
 {{$component.Name}}:
  {{- if eq $component.Name "Engine"}}
  Version:	{{.Version}}
  API version:	{{index .Details "ApiVersion"}} (minimum version {{index .Details "MinAPIVersion"}})
  Go version:	{{index .Details "GoVersion"}}
  Git commit:	{{index .Details "GitCommit"}}
  Built:	{{index .Details "BuildTime"}}
  OS/Arch:	{{index .Details "Os"}}/{{index .Details "Arch"}}
  Experimental:	{{index .Details "Experimental"}}
  {{- else}}
  Version:	{{$component.Version}}
  {{- $detailsOrder := detailsOrder $component}}
  {{- range $key := $detailsOrder}}
  {{$key}}:	{{index $component.Details $key}}
  {{- end}}
  {{- end}}
{{- end}}
{{- if not .Components}}
 Engine:
  Version:	{{.Version}}
  API version:	{{.APIVersion}} (minimum version {{.MinAPIVersion}})
  OS/Arch:	{{.Os}}/{{.Arch}}
{{- end}}
{{- end}}{{end}}
`

func (c *CLI) newVersionCommand() *cobra.Command {
	var format string
	cmd := newCommand("version [OPTIONS]", "Show the Berth version information", noArgs,
		func(cmd *cobra.Command, _ []string) error {
			api, err := c.client()
			if err != nil {
				return err
			}
			info := versionInfo{Client: clientVersion{
				Version: Version, DefaultAPIVersion: client.MaxAPIVersion, GoVersion: runtime.Version(),
				Os: runtime.GOOS, Arch: runtime.GOARCH, Context: "default",
			}}
			sv, serr := api.ServerVersion(cmd.Context(), client.ServerVersionOptions{})
			info.Client.APIVersion = api.ClientVersion()
			if serr == nil {
				info.Server = &serverVersion{Version: sv.Version, APIVersion: sv.APIVersion,
					MinAPIVersion: sv.MinAPIVersion, Os: sv.Os, Arch: sv.Arch,
					Components: sv.Components}
				info.Server.Platform.Name = sv.Platform.Name
			}
			if err := renderVersion(c.out, format, info); err != nil {
				return err
			}
			return serr
		})
	cmd.Flags().StringVarP(&format, "format", "f", "", "Format output using a custom template:\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template")
	return cmd
}

// renderVersion prints `version` output with the default template or the
// user's --format.
func renderVersion(w io.Writer, format string, info versionInfo) error {
	switch strings.TrimSpace(format) {
	case "":
		funcs := templateFuncs()
		funcs["detailsOrder"] = detailsOrder
		t, err := parseTemplateWith(versionTemplate, funcs)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(w, 20, 1, 1, ' ', 0)
		if err := t.Execute(tw, info); err != nil {
			return fmt.Errorf("template: %w", err)
		}
		return tw.Flush()
	case jsonFormatKey:
		format = "{{json .}}"
	}
	t, err := parseTemplate(format)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, info); err != nil {
		return fmt.Errorf("template: %w", err)
	}
	buf.WriteByte('\n')
	_, err = buf.WriteTo(w)
	return err
}

func detailsOrder(v system.ComponentVersion) []string {
	keys := make([]string, 0, len(v.Details))
	for k := range v.Details {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// infoContext is what `info --format` templates see.
type infoContext struct {
	*system.Info
	ClientInfo   clientVersion
	ServerErrors []string `json:",omitempty"`
}

func (c *CLI) newInfoCommand() *cobra.Command {
	var format string
	cmd := newCommand("info [OPTIONS]", "Display system-wide information", noArgs,
		func(cmd *cobra.Command, _ []string) error {
			api, err := c.client()
			if err != nil {
				return err
			}
			ctx := infoContext{ClientInfo: clientVersion{Version: Version, GoVersion: runtime.Version(),
				Os: runtime.GOOS, Arch: runtime.GOARCH, Context: "default"}}
			res, ierr := api.Info(cmd.Context(), client.InfoOptions{})
			if ierr == nil {
				ctx.Info = &res.Info
			} else {
				ctx.ServerErrors = append(ctx.ServerErrors, ierr.Error())
			}
			if format != "" {
				f := format
				if strings.TrimSpace(f) == jsonFormatKey {
					f = "{{json .}}"
				}
				t, err := parseTemplate(f)
				if err != nil {
					return err
				}
				var buf bytes.Buffer
				if err := t.Execute(&buf, ctx); err != nil {
					return fmt.Errorf("template: %w", err)
				}
				buf.WriteByte('\n')
				_, err = buf.WriteTo(c.out)
				return err
			}
			writeInfo(c.out, ctx)
			if ierr != nil {
				return ierr
			}
			for _, w := range res.Info.Warnings {
				fmt.Fprintln(c.err, w)
			}
			return nil
		})
	cmd.Flags().StringVarP(&format, "format", "f", "", "Format output using a custom template:\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template")
	return cmd
}

// writeInfo prints the human form of `info`.
func writeInfo(w io.Writer, ctx infoContext) {
	fmt.Fprintln(w, "Client:")
	fmt.Fprintf(w, " Version:    %s\n", ctx.ClientInfo.Version)
	fmt.Fprintf(w, " Context:    %s\n", ctx.ClientInfo.Context)
	fmt.Fprintf(w, " Debug Mode: false\n")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Server:")
	in := ctx.Info
	if in == nil {
		return
	}
	fmt.Fprintf(w, " Containers: %d\n", in.Containers)
	fmt.Fprintf(w, "  Running: %d\n", in.ContainersRunning)
	fmt.Fprintf(w, "  Paused: %d\n", in.ContainersPaused)
	fmt.Fprintf(w, "  Stopped: %d\n", in.ContainersStopped)
	fmt.Fprintf(w, " Images: %d\n", in.Images)
	fmt.Fprintf(w, " Server Version: %s\n", in.ServerVersion)
	fmt.Fprintf(w, " Storage Driver: %s\n", in.Driver)
	for _, kv := range in.DriverStatus {
		fmt.Fprintf(w, "  %s: %s\n", kv[0], kv[1])
	}
	fmt.Fprintf(w, " Logging Driver: %s\n", in.LoggingDriver)
	fmt.Fprintf(w, " Cgroup Driver: %s\n", in.CgroupDriver)
	if in.CgroupVersion != "" {
		fmt.Fprintf(w, " Cgroup Version: %s\n", in.CgroupVersion)
	}
	if len(in.Runtimes) > 0 {
		names := make([]string, 0, len(in.Runtimes))
		for n := range in.Runtimes {
			names = append(names, n)
		}
		sort.Strings(names)
		fmt.Fprintf(w, " Runtimes: %s\n", strings.Join(names, " "))
		fmt.Fprintf(w, " Default Runtime: %s\n", in.DefaultRuntime)
	}
	if len(in.SecurityOptions) > 0 {
		fmt.Fprintln(w, " Security Options:")
		for _, o := range in.SecurityOptions {
			fmt.Fprintf(w, "  %s\n", o)
		}
	}
	fmt.Fprintf(w, " Kernel Version: %s\n", in.KernelVersion)
	fmt.Fprintf(w, " Operating System: %s\n", in.OperatingSystem)
	fmt.Fprintf(w, " OSType: %s\n", in.OSType)
	fmt.Fprintf(w, " Architecture: %s\n", in.Architecture)
	fmt.Fprintf(w, " CPUs: %d\n", in.NCPU)
	fmt.Fprintf(w, " Total Memory: %s\n", units.BytesSize(float64(in.MemTotal)))
	fmt.Fprintf(w, " Name: %s\n", in.Name)
	fmt.Fprintf(w, " ID: %s\n", in.ID)
	fmt.Fprintf(w, " Docker Root Dir: %s\n", in.DockerRootDir)
	fmt.Fprintf(w, " Debug Mode: %v\n", in.Debug)
	if len(in.Labels) > 0 {
		fmt.Fprintln(w, " Labels:")
		for _, l := range in.Labels {
			fmt.Fprintf(w, "  %s\n", l)
		}
	}
	fmt.Fprintf(w, " Experimental: %v\n", in.ExperimentalBuild)
	fmt.Fprintf(w, " Live Restore Enabled: %v\n", in.LiveRestoreEnabled)
	fmt.Fprintln(w)
}

func (c *CLI) newInspectCommand() *cobra.Command {
	var format, kind string
	var size bool
	cmd := newCommand("inspect [OPTIONS] NAME|ID [NAME|ID...]", "Return low-level information on Berth objects", minArgs(1),
		func(cmd *cobra.Command, args []string) error {
			switch kind {
			case "", "container", "image", "network", "volume":
			default:
				return fmt.Errorf("%q is not a valid value for --type", kind)
			}
			return c.inspect(cmd, args, kind, format, size)
		})
	fs := cmd.Flags()
	fs.StringVarP(&format, "format", "f", "", "Format output using a custom template:\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template")
	fs.BoolVarP(&size, "size", "s", false, "Display total file sizes if the type is container")
	fs.StringVar(&kind, "type", "", "Only inspect objects of the given type")
	return cmd
}

// newTypedInspectCommand is `container inspect` or `image inspect`.
func (c *CLI) newTypedInspectCommand(kind string) *cobra.Command {
	var format string
	var size bool
	short := "Display detailed information on one or more containers"
	use := "inspect [OPTIONS] CONTAINER [CONTAINER...]"
	if kind == "image" {
		short = "Display detailed information on one or more images"
		use = "inspect [OPTIONS] IMAGE [IMAGE...]"
	}
	cmd := newCommand(use, short, minArgs(1), func(cmd *cobra.Command, args []string) error {
		return c.inspect(cmd, args, kind, format, size)
	})
	fs := cmd.Flags()
	fs.StringVarP(&format, "format", "f", "", "Format output using a custom template:\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template")
	if kind == "container" {
		fs.BoolVarP(&size, "size", "s", false, "Display total file sizes")
	}
	return cmd
}

// inspect prints objects as an indented JSON array, or each through the
// --format template, as docker's inspect does. kind "" tries every kind.
func (c *CLI) inspect(cmd *cobra.Command, refs []string, kind, format string, size bool) error {
	api, err := c.client()
	if err != nil {
		return err
	}
	return c.inspectEach(refs, format, func(ref string) (any, []byte, error) {
		return c.inspectOne(cmd, api, ref, kind, size)
	})
}

// inspectEach prints the objects get returns for refs as docker's inspect
// commands do: one indented JSON array, or each object through the
// --format template; the errors of missing objects follow on stderr, with
// status 1.
func (c *CLI) inspectEach(refs []string, format string, get func(ref string) (any, []byte, error)) error {
	ins, err := newInspector(c.out, format)
	if err != nil {
		return err
	}
	var errs []string
	for _, ref := range refs {
		typed, raw, err := get(ref)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		if err := ins.add(typed, raw); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if err := ins.flush(); err != nil {
		return err
	}
	if len(errs) > 0 {
		return StatusError{Status: strings.Join(errs, "\n"), StatusCode: 1}
	}
	return nil
}

func (c *CLI) inspectOne(cmd *cobra.Command, api *client.Client, ref, kind string, size bool) (any, []byte, error) {
	// The kinds inspect knows, in the order docker tries them.
	kinds := []string{"container", "image", "network", "volume"}
	if kind != "" {
		kinds = []string{kind}
	}
	for _, k := range kinds {
		var typed any
		var raw []byte
		var err error
		switch k {
		case "container":
			var res client.ContainerInspectResult
			res, err = api.ContainerInspect(cmd.Context(), ref, client.ContainerInspectOptions{Size: size})
			typed, raw = res.Container, res.Raw
		case "image":
			typed, raw, err = rawInspectImage(cmd, api, ref)
		case "network":
			var res client.NetworkInspectResult
			res, err = api.NetworkInspect(cmd.Context(), ref, client.NetworkInspectOptions{})
			typed, raw = res.Network, res.Raw
		case "volume":
			var res client.VolumeInspectResult
			res, err = api.VolumeInspect(cmd.Context(), ref, client.VolumeInspectOptions{})
			typed, raw = res.Volume, res.Raw
		}
		if err == nil {
			return typed, raw, nil
		}
		if !cerrdefs.IsNotFound(err) {
			return nil, nil, err
		}
	}
	if kind == "" {
		return nil, nil, fmt.Errorf("Error: No such object: %s", ref)
	}
	return nil, nil, fmt.Errorf("Error: No such %s: %s", kind, ref)
}

// inspector collects inspect results and prints them.
type inspector struct {
	w    io.Writer
	tmpl *template.Template
	raws [][]byte
	buf  bytes.Buffer
}

func newInspector(w io.Writer, format string) (*inspector, error) {
	ins := &inspector{w: w}
	switch strings.TrimSpace(format) {
	case "", jsonFormatKey:
		return ins, nil
	}
	t, err := parseTemplate(format)
	if err != nil {
		// docker's inspect commands end a bad template with status 64.
		return nil, StatusError{Status: err.Error(), StatusCode: exitTemplateError, Cause: err}
	}
	ins.tmpl = t
	return ins, nil
}

// exitTemplateError is the status of an inspect command whose --format
// template does not parse (docker's usage-error code, EX_USAGE).
const exitTemplateError = 64

func (i *inspector) add(typed any, raw []byte) error {
	if i.tmpl == nil {
		if raw == nil {
			b, err := json.Marshal(typed)
			if err != nil {
				return err
			}
			raw = b
		}
		i.raws = append(i.raws, raw)
		return nil
	}
	var out bytes.Buffer
	if err := i.tmpl.Execute(&out, typed); err != nil {
		// Docker falls back to the raw JSON, so templates can use the API's
		// field names (e.g. .Id) as well as the Go ones; there a missing
		// key is an error.
		if raw == nil {
			return fmt.Errorf("template parsing error: %w", err)
		}
		var m any
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&m); err != nil {
			return fmt.Errorf("unable to read inspect data: %w", err)
		}
		out.Reset()
		if err := i.tmpl.Option("missingkey=error").Execute(&out, m); err != nil {
			return fmt.Errorf("template parsing error: %w", err)
		}
	}
	i.buf.Write(out.Bytes())
	i.buf.WriteByte('\n')
	return nil
}

func (i *inspector) flush() error {
	if i.tmpl != nil {
		if i.buf.Len() == 0 {
			_, err := io.WriteString(i.w, "\n")
			return err
		}
		_, err := i.buf.WriteTo(i.w)
		return err
	}
	return writeIndentedArray(i.w, i.raws)
}

// writeIndentedArray prints raw JSON objects as one array indented with
// four spaces, "[]" when empty.
func writeIndentedArray(w io.Writer, raws [][]byte) error {
	if len(raws) == 0 {
		_, err := io.WriteString(w, "[]\n")
		return err
	}
	var all bytes.Buffer
	all.WriteByte('[')
	for n, r := range raws {
		if n > 0 {
			all.WriteByte(',')
		}
		all.Write(bytes.TrimSpace(r))
	}
	all.WriteByte(']')
	var out bytes.Buffer
	if err := json.Indent(&out, all.Bytes(), "", "    "); err != nil {
		return fmt.Errorf("indent inspect output: %w", err)
	}
	out.WriteByte('\n')
	_, err := out.WriteTo(w)
	return err
}

func (c *CLI) newEventsCommand() *cobra.Command {
	var since, until, format string
	var filters []string
	cmd := newCommand("events [OPTIONS]", "Get real time events from the server", noArgs,
		func(cmd *cobra.Command, _ []string) error {
			f, err := parseFilters(filters)
			if err != nil {
				return err
			}
			var tmpl interface {
				Execute(io.Writer, any) error
			}
			switch strings.TrimSpace(format) {
			case "":
			case jsonFormatKey:
				tmpl, err = parseTemplate("{{json .}}")
			default:
				tmpl, err = parseTemplate(format)
			}
			if err != nil {
				return err
			}
			api, err := c.client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			res := api.Events(ctx, client.EventsListOptions{Since: since, Until: until, Filters: f})
			for {
				select {
				case m := <-res.Messages:
					if tmpl != nil {
						var buf bytes.Buffer
						if err := tmpl.Execute(&buf, m); err != nil {
							return fmt.Errorf("template: %w", err)
						}
						buf.WriteByte('\n')
						if _, err := buf.WriteTo(c.out); err != nil {
							return err
						}
						continue
					}
					writeEvent(c.out, m)
				case err := <-res.Err:
					if errors.Is(err, io.EOF) {
						return nil
					}
					if ctx.Err() != nil {
						return ctx.Err()
					}
					return err
				}
			}
		})
	fs := cmd.Flags()
	filterFlag(fs, &filters, true)
	fs.StringVar(&format, "format", "", "Format output using a custom template:\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template")
	fs.StringVar(&since, "since", "", "Show all events created since timestamp")
	fs.StringVar(&until, "until", "", "Stream events until this timestamp")
	return cmd
}

// writeEvent prints one event in docker's default form:
// "<time> <type> <action> <id> (k=v, ...)".
func writeEvent(w io.Writer, m events.Message) {
	switch {
	case m.TimeNano != 0:
		fmt.Fprintf(w, "%s ", time.Unix(0, m.TimeNano).Format(rfc3339NanoFixed))
	case m.Time != 0:
		fmt.Fprintf(w, "%s ", time.Unix(m.Time, 0).Format(rfc3339NanoFixed))
	}
	fmt.Fprintf(w, "%s %s %s", m.Type, m.Action, m.Actor.ID)
	if len(m.Actor.Attributes) > 0 {
		keys := make([]string, 0, len(m.Actor.Attributes))
		for k := range m.Actor.Attributes {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		attrs := make([]string, len(keys))
		for i, k := range keys {
			attrs[i] = k + "=" + m.Actor.Attributes[k]
		}
		fmt.Fprintf(w, " (%s)", strings.Join(attrs, ", "))
	}
	fmt.Fprintln(w)
}
