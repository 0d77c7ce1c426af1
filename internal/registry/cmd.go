package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/spf13/pflag"

	"berth/internal/log"
)

// Main runs `berthd registry [gc] ARGS…` and returns the exit status. args
// are the arguments after "registry"; ctx ends the server.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var err error
	if len(args) > 0 && args[0] == "gc" {
		err = mainGC(ctx, args[1:], stdout, stderr)
	} else {
		err = mainServe(ctx, args, stderr)
	}
	if errors.Is(err, pflag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "berthd registry:", err)
		return 1
	}
	return 0
}

func withLogger(ctx context.Context, level string, stderr io.Writer) (context.Context, error) {
	lv, ok := log.ParseLevel(level)
	if !ok {
		return nil, fmt.Errorf("invalid --log-level %q", level)
	}
	return log.WithLogger(ctx, slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lv}))), nil
}

func mainServe(ctx context.Context, args []string, stderr io.Writer) error {
	def := DefaultConfig()
	cfg := def
	fs := pflag.NewFlagSet("berthd registry", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.Addr, "addr", def.Addr, "Address to listen on (HOST:PORT)")
	fs.StringVar(&cfg.Root, "root", def.Root, "Storage directory")
	fs.StringVar(&cfg.TLSCert, "tls-cert", "", "TLS certificate (PEM)")
	fs.StringVar(&cfg.TLSKey, "tls-key", "", "TLS private key (PEM)")
	fs.BoolVar(&cfg.ReadOnly, "read-only", false, "Refuse pushes and deletes")
	fs.StringVar(&cfg.Htpasswd, "htpasswd", "", "htpasswd file: basic auth, or the users of --token-issue")
	fs.StringVar(&cfg.ACL, "acl", "", "JSON file of per-repository permissions")
	fs.StringVar(&cfg.Token.Realm, "token-realm", "", "Token service URL (turns on token auth)")
	fs.StringVar(&cfg.Token.Issuer, "token-issuer", def.Token.Issuer, "Issuer tokens must name")
	fs.StringVar(&cfg.Token.Service, "token-service", def.Token.Service, "Service (audience) tokens must name")
	fs.StringVar(&cfg.Token.Key, "token-key", "", "PEM public key or certificate to verify tokens; a private key also issues them")
	fs.BoolVar(&cfg.Token.Issue, "token-issue", false, "Serve a token endpoint at /token (needs --htpasswd and a private --token-key)")
	fs.DurationVar(&cfg.Token.TTL, "token-ttl", def.Token.TTL, "Lifetime of issued tokens")
	level := fs.String("log-level", "info", `Logging level ("debug"|"info"|"warn"|"error")`)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	ctx, err := withLogger(ctx, *level, stderr)
	if err != nil {
		return err
	}
	srv, err := New(cfg)
	if err != nil {
		return err
	}
	return srv.Run(ctx)
}

func mainGC(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := pflag.NewFlagSet("berthd registry gc", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	root := fs.String("root", DefaultConfig().Root, "Storage directory")
	grace := fs.Duration("grace", time.Hour, "Keep unreferenced blobs younger than this (protects pushes in progress)")
	ttl := fs.Duration("upload-ttl", 24*time.Hour, "Remove upload sessions older than this")
	dry := fs.Bool("dry-run", false, "Report what would be removed")
	level := fs.String("log-level", "warn", `Logging level ("debug"|"info"|"warn"|"error")`)
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, err := withLogger(ctx, *level, stderr)
	if err != nil {
		return err
	}
	g := *grace
	if g == 0 {
		g = -1 // an explicit 0 means no grace
	}
	rep, err := GC(ctx, *root, GCOptions{Grace: g, UploadTTL: *ttl, DryRun: *dry})
	if err != nil {
		return err
	}
	verb := "removed"
	if *dry {
		verb = "would remove"
	}
	for _, d := range rep.Removed {
		fmt.Fprintln(stdout, verb, d)
	}
	fmt.Fprintf(stdout, "%d manifests, %d blobs referenced; %s %d blobs (%d bytes), %d links, %d uploads\n",
		rep.Manifests, rep.Marked, verb, len(rep.Removed), rep.BytesFreed, rep.Links, rep.UploadsFreed)
	return nil
}
