// Package archive reads and writes the tar streams of image layers.
//
// Apply extracts a layer tar into a directory and is written for hostile
// input: every file it creates stays inside the target directory, whatever
// names, symlinks and hard links the archive holds. Whiteouts are either
// converted to overlayfs's on-disk form (to unpack a lower dir) or carried out
// (to apply a layer onto a merged tree). Diff turns an overlayfs upper dir
// back into an OCI layer tar, and Tar writes a plain tar of a tree.
// DecompressStream detects the compression of a layer blob by its magic bytes.
package archive

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Compression names the compression of a stream.
type Compression int

// The compressions that DecompressStream recognises.
const (
	Uncompressed Compression = iota
	Gzip
	Zstd
	Bzip2
)

// String returns the name of the compression.
func (c Compression) String() string {
	switch c {
	case Uncompressed:
		return "uncompressed"
	case Gzip:
		return "gzip"
	case Zstd:
		return "zstd"
	case Bzip2:
		return "bzip2"
	}
	return fmt.Sprintf("Compression(%d)", int(c))
}

var (
	magicGzip  = []byte{0x1f, 0x8b, 0x08}
	magicZstd  = []byte{0x28, 0xb5, 0x2f, 0xfd}
	magicBzip2 = []byte{'B', 'Z', 'h'}
)

// DetectCompression returns the compression whose magic bytes start source.
func DetectCompression(source []byte) Compression {
	switch {
	case bytes.HasPrefix(source, magicGzip):
		return Gzip
	case bytes.HasPrefix(source, magicZstd):
		return Zstd
	case bytes.HasPrefix(source, magicBzip2):
		return Bzip2
	}
	return Uncompressed
}

// DecompressStream returns a reader of the decompressed contents of r, which
// may be gzip, zstd, bzip2 or uncompressed; the kind is detected by its magic
// bytes. Closing the returned reader releases the decompressor but does not
// close r.
func DecompressStream(r io.Reader) (io.ReadCloser, error) {
	br := bufio.NewReaderSize(r, 32*1024)
	head, err := br.Peek(4)
	if err != nil && err != io.EOF {
		return nil, fmt.Errorf("detect compression: %w", err)
	}
	switch DetectCompression(head) {
	case Gzip:
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		return zr, nil
	case Zstd:
		zr, err := zstd.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
		return zr.IOReadCloser(), nil
	case Bzip2:
		return io.NopCloser(bzip2.NewReader(br)), nil
	}
	return io.NopCloser(br), nil
}
