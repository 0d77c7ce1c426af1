// Package jsonfile is the json-file log driver: Docker's on-disk format, its
// rotation, and the reader behind docker logs.
//
// # On disk
//
// One JSON object per line, exactly as dockerd writes it:
//
//	{"log":"text\n","stream":"stdout","time":"2024-01-01T00:00:00.000000000Z"}
//
// "log" is the output including its newline when it had one (a partial line
// is written as it comes, without one), "stream" is stdout or stderr, and
// "time" is RFC 3339 in UTC with nine fraction digits. The current file is
// path; rotated files are path.1 (newest) to path.(MaxFile-1) (oldest), all
// plain (Compress is accepted but not applied yet). Files are mode 0640.
//
// # Bounded by default
//
// Unlike dockerd, berth rotates even when no max-size is given: 20 MiB per
// file and 5 files (DefaultConfig; moby#37471). max-size=-1 opts out.
//
// # Concurrency
//
// A Writer serialises Log calls with a mutex; every line is written with one
// write(2), and rotation (rename chain, then a new path) happens under the
// same lock, so a file is complete once it has been renamed. Readers may run
// in other processes: Read takes no lock, orders files by following inodes
// across renames, and in follow mode is woken by inotify on the directory.
package jsonfile
