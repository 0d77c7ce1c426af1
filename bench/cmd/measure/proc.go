package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// proc is one process as seen in /proc at the time of a snapshot.
type proc struct {
	pid  int
	ppid int
	comm string
	argv []string
}

// hasArgPrefix reports whether any argument of p starts with prefix.
func (p proc) hasArgPrefix(prefix string) bool {
	for _, a := range p.argv {
		if strings.HasPrefix(a, prefix) {
			return true
		}
	}
	return false
}

// processes returns every process whose /proc entry could be read; processes
// that exit while they are read are skipped.
func processes() ([]proc, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	var out []proc
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		comm, ppid, err := parseStat(stat)
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		out = append(out, proc{pid: pid, ppid: ppid, comm: comm, argv: parseCmdline(cmdline)})
	}
	return out, nil
}

// parseStat returns the command name and parent PID from the contents of
// /proc/PID/stat. The name sits in parentheses and may itself hold spaces
// and parentheses, so the fields are counted from the last ')'.
func parseStat(b []byte) (comm string, ppid int, err error) {
	open := bytes.IndexByte(b, '(')
	end := bytes.LastIndexByte(b, ')')
	if open < 0 || end < open {
		return "", 0, fmt.Errorf("malformed stat %q", b)
	}
	fields := strings.Fields(string(b[end+1:]))
	if len(fields) < 2 {
		return "", 0, fmt.Errorf("malformed stat %q", b)
	}
	ppid, err = strconv.Atoi(fields[1])
	if err != nil {
		return "", 0, fmt.Errorf("malformed stat ppid %q: %w", fields[1], err)
	}
	return string(b[open+1 : end]), ppid, nil
}

// parseCmdline splits the NUL-separated contents of /proc/PID/cmdline.
func parseCmdline(b []byte) []string {
	b = bytes.TrimRight(b, "\x00")
	if len(b) == 0 {
		return nil
	}
	return strings.Split(string(b), "\x00")
}

// memField returns the value in KiB of the first line starting with key
// (such as "Pss:" or "VmRSS:") in a /proc memory file.
func memField(r io.Reader, key string) (int64, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, key) {
			continue
		}
		f := strings.Fields(line[len(key):])
		if len(f) == 0 {
			return 0, fmt.Errorf("no value for %s", key)
		}
		v, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("value for %s: %w", key, err)
		}
		return v, nil
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("%s not found", key)
}

// readMem returns the field key, in KiB, of /proc/PID/file.
func readMem(pid int, file, key string) (int64, error) {
	f, err := os.Open(filepath.Join("/proc", strconv.Itoa(pid), file))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	v, err := memField(f, key)
	if err != nil {
		return 0, fmt.Errorf("pid %d %s: %w", pid, file, err)
	}
	return v, nil
}

// pss returns the summed proportional set size of pids in KiB.
func pss(pids []int) (int64, error) {
	var sum int64
	for _, pid := range pids {
		v, err := readMem(pid, "smaps_rollup", "Pss:")
		if err != nil {
			return 0, err
		}
		sum += v
	}
	return sum, nil
}

// rss returns the summed resident set size of pids in KiB.
func rss(pids []int) (int64, error) {
	var sum int64
	for _, pid := range pids {
		v, err := readMem(pid, "status", "VmRSS:")
		if err != nil {
			return 0, err
		}
		sum += v
	}
	return sum, nil
}

// unescapeMountinfo undoes the octal escapes (\040 for a space and so on)
// that /proc/self/mountinfo uses in paths.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// mountsUnder returns the mount points at or below dir listed in mountinfo,
// deepest first, so they can be unmounted in order.
func mountsUnder(mountinfo io.Reader, dir string) ([]string, error) {
	dir = filepath.Clean(dir)
	var out []string
	sc := bufio.NewScanner(mountinfo)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 5 {
			continue
		}
		mp := unescapeMountinfo(f[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			out = append(out, mp)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read mountinfo: %w", err)
	}
	sort.SliceStable(out, func(i, j int) bool {
		return strings.Count(out[i], "/") > strings.Count(out[j], "/")
	})
	return out, nil
}
