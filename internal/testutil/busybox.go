package testutil

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"testing"
	"time"
)

// BusyboxApplets are the commands linked to busybox in the test rootfs.
var BusyboxApplets = []string{
	"sh", "ls", "cat", "echo", "sleep", "true", "false", "id", "env", "pwd", "hostname",
	"ps", "top", "kill", "mkdir", "rm", "touch", "wc", "head", "tail", "grep", "sed",
	"date", "yes", "dd", "httpd", "nc", "wget", "ip", "ifconfig", "mount", "stat", "whoami", "seq",
}

// BusyboxRootfsTar returns an uncompressed tar of a minimal rootfs holding
// Debian's static busybox, applet links in /bin, /etc/passwd and /etc/group
// with root, nobody and a uid-1000 user, and empty /tmp, /proc, /sys, /dev.
func BusyboxRootfsTar(t testing.TB) []byte {
	t.Helper()
	Require(t, Busybox)
	bin, err := os.ReadFile(BusyboxPath)
	if err != nil {
		t.Fatal(err)
	}
	b, err := BusyboxTar(bin)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// BusyboxTar builds the rootfs tar described by BusyboxRootfsTar from the
// given busybox binary.
func BusyboxTar(busybox []byte) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mt := time.Unix(1700000000, 0)
	dir := func(name string, mode int64) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode, ModTime: mt})
	}
	file := func(name string, mode int64, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(data)), ModTime: mt}); err != nil {
			return err
		}
		_, err := io.Copy(tw, bytes.NewReader(data))
		return err
	}
	for _, d := range []struct {
		n string
		m int64
	}{{"bin", 0o755}, {"etc", 0o755}, {"tmp", 0o1777}, {"proc", 0o555}, {"sys", 0o555}, {"dev", 0o755}, {"root", 0o700}, {"home", 0o755}, {"var", 0o755}, {"usr", 0o755}} {
		if err := dir(d.n, d.m); err != nil {
			return nil, err
		}
	}
	if err := file("bin/busybox", 0o755, busybox); err != nil {
		return nil, err
	}
	for _, a := range BusyboxApplets {
		// Hard-link headers carry the file mode, as GNU tar writes them: Docker
		// applies it to the link target.
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeLink, Name: "bin/" + a, Linkname: "bin/busybox", Mode: 0o755, ModTime: mt}); err != nil {
			return nil, err
		}
	}
	passwd := "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\nuser:x:1000:1000:user:/home/user:/bin/sh\n"
	group := "root:x:0:\nnogroup:x:65534:\nuser:x:1000:\nstaff:x:50:user\n"
	if err := file("etc/passwd", 0o644, []byte(passwd)); err != nil {
		return nil, err
	}
	if err := file("etc/group", 0o644, []byte(group)); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
