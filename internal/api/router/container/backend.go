// Package container routes the container and exec endpoints of the Docker
// Engine API to a Backend.
package container

import (
	"context"
	"io"

	"github.com/moby/moby/api/types/container"

	ctr "berth/internal/container"
	"berth/internal/filters"
	"berth/internal/runtime/shim"
)

// Backend is what the container routes need.
type Backend interface {
	Create(ctx context.Context, o ctr.CreateOptions) (ctr.CreateResult, error)
	Start(ctx context.Context, ref string) error
	Stop(ctx context.Context, ref string, o ctr.StopOptions) error
	Restart(ctx context.Context, ref string, o ctr.StopOptions) error
	Kill(ctx context.Context, ref, signal string) error
	Remove(ctx context.Context, ref string, o ctr.RemoveOptions) error
	Waiter(ref string, cond ctr.WaitCondition) (func(ctx context.Context) (int, string, error), error)
	Rename(ctx context.Context, ref, name string) error
	Pause(ctx context.Context, ref string) error
	Unpause(ctx context.Context, ref string) error
	Inspect(ctx context.Context, ref string, size bool) (container.InspectResponse, error)
	List(ctx context.Context, o ctr.ListOptions) ([]container.Summary, error)
	Prune(ctx context.Context, f filters.Args, dryRun bool) (container.PruneReport, error)
	Top(ctx context.Context, ref, psArgs string) (container.TopResponse, error)
	Attach(ctx context.Context, ref string, o ctr.AttachOptions) (*ctr.Attach, error)
	Logs(ctx context.Context, ref string, o ctr.LogsOptions) (*ctr.Logs, error)
	Resize(ctx context.Context, ref string, h, w uint16) error
	Update(ctx context.Context, ref string, u container.UpdateConfig) ([]string, error)
	Stats(ctx context.Context, ref string, stream bool, fn func(container.StatsResponse) error) error
	ExecCreate(ctx context.Context, ref string, req container.ExecCreateRequest) (string, error)
	ExecStart(ctx context.Context, execID string, o ctr.ExecStartOptions) (*shim.Attachment, error)
	ExecInspect(ctx context.Context, execID string) (container.ExecInspectResponse, error)
	ExecResize(ctx context.Context, execID string, h, w uint16) error
	FilesBackend
}

// FilesBackend is what the file endpoints need: the archive endpoints
// behind `docker cp`, changes, export and commit.
type FilesBackend interface {
	StatPath(ctx context.Context, ref, path string) (container.PathStat, error)
	ArchivePath(ctx context.Context, ref, path string, open func(container.PathStat) (io.Writer, error)) error
	ExtractToDir(ctx context.Context, ref, path string, r io.Reader, o ctr.ExtractOptions) error
	Changes(ctx context.Context, ref string) ([]container.FilesystemChange, error)
	Export(ctx context.Context, ref string, w io.Writer) error
	Commit(ctx context.Context, ref string, o ctr.CommitOptions) (string, error)
}
