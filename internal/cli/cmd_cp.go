package cli

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

// cpEnd is one side of `cp`: a container path or a local one ("-" for a
// tar stream on stdin or stdout).
type cpEnd struct {
	container, path string
}

// splitCpArg splits CONTAINER:PATH; a path that starts with "/" or "." is
// local even when it holds a colon, as in docker.
func splitCpArg(arg string) cpEnd {
	if arg == "-" || strings.HasPrefix(arg, "/") || strings.HasPrefix(arg, ".") {
		return cpEnd{path: arg}
	}
	ctr, p, ok := strings.Cut(arg, ":")
	if !ok {
		return cpEnd{path: arg}
	}
	return cpEnd{container: ctr, path: p}
}

// cpOptions are cp's flags.
type cpOptions struct {
	archive, follow, quiet bool
}

func (c *CLI) newCpCommand() *cobra.Command {
	var o cpOptions
	cmd := newCommand("cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tberth cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH",
		"Copy files/folders between a container and the local filesystem", exactArgs(2),
		func(cmd *cobra.Command, args []string) error {
			src, dst := splitCpArg(args[0]), splitCpArg(args[1])
			if src.path == "" || dst.path == "" {
				return errors.New("filesystem path cannot be empty")
			}
			api, err := c.client()
			if err != nil {
				return err
			}
			switch {
			case src.container != "" && dst.container != "":
				return errors.New("copying between containers is not supported")
			case src.container != "":
				return c.copyFromContainer(cmd.Context(), api, src, dst.path, o)
			case dst.container != "":
				return c.copyToContainer(cmd.Context(), api, src.path, dst, o)
			}
			return errors.New("must specify at least one container source")
		})
	f := cmd.Flags()
	f.BoolVarP(&o.archive, "archive", "a", false, "Archive mode (copy all uid/gid information)")
	f.BoolVarP(&o.follow, "follow-link", "L", false, "Always follow symbol link in SRC_PATH")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "Suppress progress output during copy. Progress output is automatically suppressed if no terminal is attached")
	return cmd
}

// containerPath makes a container path absolute, keeping a trailing "/" or
// "/." that asks for a directory.
func containerPath(p string) string {
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	return p
}

// assertsDir reports whether a path says it must be a directory.
func assertsDir(p string) bool {
	return strings.HasSuffix(p, "/") || strings.HasSuffix(p, "/.") || p == "."
}

// tarBase is the name the daemon gives the top entry of the tar of p.
func tarBase(p string) string {
	if strings.HasSuffix(p, "/.") || p == "." {
		return "."
	}
	b := path.Base(path.Clean(p))
	if b == "/" {
		return "."
	}
	return b
}

func (c *CLI) copyFromContainer(ctx context.Context, api *client.Client, src cpEnd, dst string, o cpOptions) error {
	srcPath := containerPath(src.path)
	res, err := api.CopyFromContainer(ctx, src.container, client.CopyFromContainerOptions{SourcePath: srcPath})
	if err != nil {
		return err
	}
	from, to := "", ""
	if o.follow && res.Stat.Mode&os.ModeSymlink != 0 && res.Stat.LinkTarget != "" {
		res.Content.Close()
		target := res.Stat.LinkTarget
		if res, err = api.CopyFromContainer(ctx, src.container, client.CopyFromContainerOptions{SourcePath: target}); err != nil {
			return err
		}
		from, to = tarBase(target), tarBase(srcPath)
	}
	defer res.Content.Close()
	if dst == "-" {
		_, err := io.Copy(c.out, res.Content)
		return err
	}
	srcIsDir := res.Stat.Mode.IsDir()
	base := tarBase(srcPath)
	if from == "" {
		from, to = base, base
	}
	dir := dst
	st, err := os.Stat(dst)
	switch {
	case err == nil && st.IsDir():
		// Copied into the directory under its own name.
	case err == nil:
		if srcIsDir {
			return fmt.Errorf("cannot copy a directory to a file: %s", dst)
		}
		dir, to = filepath.Dir(dst), filepath.Base(dst)
	case errors.Is(err, fs.ErrNotExist):
		if assertsDir(dst) && !srcIsDir {
			return fmt.Errorf("destination directory %s does not exist", dst)
		}
		if _, err := os.Stat(filepath.Dir(filepath.Clean(dst))); err != nil {
			return fmt.Errorf("destination directory %s does not exist", filepath.Dir(filepath.Clean(dst)))
		}
		dir, to = filepath.Dir(filepath.Clean(dst)), filepath.Base(filepath.Clean(dst))
	default:
		return err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	return extractLocal(root, res.Content, from, to, o.archive)
}

// rename puts name, whose first element is from, under to instead.
func rename(name, from, to string) string {
	clean := strings.TrimPrefix(path.Clean("/"+name), "/")
	if clean == "" {
		clean = "."
	}
	if from == "." {
		if clean == "." {
			return to
		}
		return to + "/" + clean
	}
	first, rest, _ := strings.Cut(clean, "/")
	if first != from {
		return clean
	}
	if rest == "" {
		return to
	}
	return to + "/" + rest
}

// extractLocal extracts the tar r below root, every name renamed from→to.
// Nothing leaves root: os.Root refuses names and symlinks that lead out.
// Owners are kept only in archive mode, as docker cp does.
func extractLocal(root *os.Root, r io.Reader, from, to string, keepOwners bool) error {
	tr := tar.NewReader(r)
	type dirTime struct {
		name string
		t    time.Time
	}
	var dirs []dirTime
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil && !errors.Is(err, tar.ErrInsecurePath) {
			return fmt.Errorf("read archive: %w", err)
		}
		name := rename(hdr.Name, from, to)
		if name == "." || name == ".." || strings.HasPrefix(name, "../") {
			continue
		}
		mode := fs.FileMode(hdr.Mode & 0o777)
		if hdr.Typeflag != tar.TypeDir {
			if st, err := root.Lstat(name); err == nil && st.IsDir() {
				return fmt.Errorf("cannot overwrite directory %q with non-directory", name)
			}
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := root.Mkdir(name, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
				return err
			}
			dirs = append(dirs, dirTime{name, hdr.ModTime})
		case tar.TypeReg:
			_ = root.Remove(name)
			f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		case tar.TypeSymlink:
			_ = root.Remove(name)
			if err := root.Symlink(hdr.Linkname, name); err != nil {
				return err
			}
		case tar.TypeLink:
			_ = root.Remove(name)
			if err := root.Link(rename(hdr.Linkname, from, to), name); err != nil {
				return err
			}
			continue
		default:
			// Devices, fifos: docker cp skips what it cannot make.
			continue
		}
		if keepOwners {
			if err := root.Lchown(name, hdr.Uid, hdr.Gid); err != nil {
				return err
			}
		}
		if hdr.Typeflag == tar.TypeSymlink {
			continue
		}
		if hdr.Mode&0o4000 != 0 {
			mode |= fs.ModeSetuid
		}
		if hdr.Mode&0o2000 != 0 {
			mode |= fs.ModeSetgid
		}
		if hdr.Mode&0o1000 != 0 {
			mode |= fs.ModeSticky
		}
		if err := root.Chmod(name, mode); err != nil {
			return err
		}
		if hdr.Typeflag == tar.TypeReg {
			if err := root.Chtimes(name, hdr.ModTime, hdr.ModTime); err != nil {
				return err
			}
		}
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		_ = root.Chtimes(dirs[i].name, dirs[i].t, dirs[i].t)
	}
	return nil
}

func (c *CLI) copyToContainer(ctx context.Context, api *client.Client, src string, dst cpEnd, o cpOptions) error {
	dstPath := containerPath(dst.path)
	stat, statErr := api.ContainerStatPath(ctx, dst.container, client.ContainerStatPathOptions{Path: dstPath})
	if statErr == nil && stat.Stat.Mode&os.ModeSymlink != 0 && stat.Stat.LinkTarget != "" {
		dstPath = stat.Stat.LinkTarget
		stat, statErr = api.ContainerStatPath(ctx, dst.container, client.ContainerStatPathOptions{Path: dstPath})
	}
	if src == "-" {
		if statErr != nil {
			return statErr
		}
		if !stat.Stat.Mode.IsDir() {
			return errors.New("destination \"" + dst.container + ":" + dst.path + "\" must be a directory")
		}
		_, err := api.CopyToContainer(ctx, dst.container, client.CopyToContainerOptions{
			DestinationPath: dstPath, Content: c.in, CopyUIDGID: o.archive,
		})
		return err
	}
	var st os.FileInfo
	var err error
	if o.follow {
		st, err = os.Stat(src)
	} else {
		st, err = os.Lstat(src)
	}
	if err != nil {
		return err
	}
	walkRoot := src
	if o.follow {
		if walkRoot, err = filepath.EvalSymlinks(src); err != nil {
			return err
		}
	}
	name := tarBase(filepath.ToSlash(src))
	if name == "." && !assertsDir(src) {
		name = filepath.Base(filepath.Clean(src))
	}
	into := dstPath
	switch {
	case statErr == nil && stat.Stat.Mode.IsDir():
	case statErr == nil:
		if st.IsDir() {
			return fmt.Errorf("cannot copy a directory to a file: %s:%s", dst.container, dst.path)
		}
		into, name = path.Dir(path.Clean(dstPath)), path.Base(path.Clean(dstPath))
	case cerrdefs.IsNotFound(statErr):
		if assertsDir(dst.path) && !st.IsDir() {
			return fmt.Errorf("destination directory %s:%s does not exist", dst.container, dst.path)
		}
		into, name = path.Dir(path.Clean(dstPath)), path.Base(path.Clean(dstPath))
	default:
		return statErr
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeLocalTar(pw, walkRoot, name, o.follow)) }()
	defer pr.Close()
	_, err = api.CopyToContainer(ctx, dst.container, client.CopyToContainerOptions{
		DestinationPath: into, Content: pr, CopyUIDGID: o.archive,
	})
	return err
}

// writeLocalTar writes a tar of the local path src with its top entry named
// name ("." for the contents of a directory). Symlinks below src are kept
// as links; src itself is followed with follow.
func writeLocalTar(w io.Writer, src, name string, follow bool) error {
	tw := tar.NewWriter(w)
	links := map[[2]uint64]string{}
	top := true
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		entry := name
		if rel != "." {
			entry = path.Join(name, filepath.ToSlash(rel))
		}
		var fi os.FileInfo
		if top && follow {
			fi, err = os.Stat(p)
		} else {
			fi, err = os.Lstat(p)
		}
		top = false
		if err != nil {
			return err
		}
		link := ""
		if fi.Mode()&os.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		if fi.Mode()&os.ModeSocket != 0 {
			return nil
		}
		hdr, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return err
		}
		hdr.Name = entry
		if fi.IsDir() {
			hdr.Name += "/"
		}
		hdr.Format = tar.FormatPAX
		hdr.Uname, hdr.Gname = "", ""
		if sys, ok := fi.Sys().(*syscall.Stat_t); ok && fi.Mode().IsRegular() && sys.Nlink > 1 {
			key := [2]uint64{sys.Dev, sys.Ino}
			if first, ok := links[key]; ok {
				hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
				return tw.WriteHeader(hdr)
			}
			links[key] = hdr.Name
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if fi.Mode().IsRegular() {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			_, err = io.Copy(tw, io.LimitReader(f, fi.Size()))
			f.Close()
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	return tw.Close()
}
