package container

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net"
	"strings"
	"sync"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"

	"berth/internal/runtime/shim"
)

// errDetached ends a stream when the client typed the detach keys.
var errDetached = errors.New("detached")

// parseDetachKeys turns Docker's key list ("ctrl-p,ctrl-q", "a", "ctrl-@")
// into the byte sequence to watch for.
func parseDetachKeys(s string) ([]byte, error) {
	if s == "" {
		return []byte{16, 17}, nil
	}
	var out []byte
	for _, k := range strings.Split(s, ",") {
		k = strings.TrimSpace(k)
		switch {
		case len(k) == 1:
			out = append(out, k[0])
		case strings.HasPrefix(k, "ctrl-") && len(k) == 6:
			c := k[5]
			switch {
			case c >= 'a' && c <= 'z':
				out = append(out, c-'a'+1)
			case c == '@':
				out = append(out, 0)
			case c == '[':
				out = append(out, 27)
			case c == '\\':
				out = append(out, 28)
			case c == ']':
				out = append(out, 29)
			case c == '^':
				out = append(out, 30)
			case c == '_':
				out = append(out, 31)
			default:
				return nil, errorf(errdefs.ErrInvalidArgument, "Unknown character: '%s'", k)
			}
		default:
			return nil, errorf(errdefs.ErrInvalidArgument, "Unknown character: '%s'", k)
		}
	}
	return out, nil
}

// copyStdin copies client input to w until EOF, an error, or the detach
// sequence, which returns errDetached. Bytes that only began the sequence
// are passed on when the sequence breaks.
func copyStdin(w io.Writer, r io.Reader, keys []byte) error {
	buf := make([]byte, 32*1024)
	matched := 0
	for {
		n, err := r.Read(buf)
		if n > 0 {
			out := make([]byte, 0, n+len(keys))
			for _, b := range buf[:n] {
				if len(keys) > 0 && b == keys[matched] {
					matched++
					if matched == len(keys) {
						if len(out) > 0 {
							_, _ = w.Write(out)
						}
						return errDetached
					}
					continue
				}
				if matched > 0 {
					out = append(out, keys[:matched]...)
					matched = 0
				}
				out = append(out, b)
			}
			if len(out) > 0 {
				if _, werr := w.Write(out); werr != nil {
					return werr
				}
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// copyOutput copies the shim's framed output to the client: frames as they
// are for a multiplexed stream, payloads only for a TTY.
func copyOutput(w io.Writer, r io.Reader, tty bool) error {
	if !tty {
		_, err := io.Copy(w, r)
		return err
	}
	var hdr [8]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil
			}
			return err
		}
		n := binary.BigEndian.Uint32(hdr[4:])
		if _, err := io.CopyN(w, r, int64(n)); err != nil {
			return err
		}
	}
}

// pump runs an attached session between the hijacked client conn and the
// shim attachment until the output ends, the client goes, or it detaches.
func pump(conn net.Conn, clientIn io.Reader, att *shim.Attachment, tty, stdin bool, keys []byte) {
	var once sync.Once
	done := make(chan struct{})
	finish := func() { once.Do(func() { close(done) }) }
	go func() {
		_ = copyOutput(conn, att, tty)
		finish()
	}()
	if stdin {
		go func() {
			err := copyStdin(att, clientIn, keys)
			if errors.Is(err, errDetached) {
				finish()
				return
			}
			_ = att.CloseWrite()
		}()
	} else {
		go func() {
			// A client without stdin half-closes at once: only a read
			// error (not EOF) means it went away.
			if _, err := io.Copy(io.Discard, clientIn); err != nil {
				finish()
			}
		}()
	}
	<-done
	att.Close()
	if cw, ok := conn.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
}

func contentType(tty bool, version string, less func(a, b string) bool) string {
	if tty || less(version, "1.42") {
		return "application/vnd.docker.raw-stream"
	}
	return "application/vnd.docker.multiplexed-stream"
}

// exitOf is a helper for Docker's wait response.
func waitResponse(code int, msg string) container.WaitResponse {
	r := container.WaitResponse{StatusCode: int64(code)}
	if msg != "" {
		r.Error = &container.WaitExitError{Message: msg}
	}
	return r
}

type msgError struct {
	msg   string
	class error
}

func (e *msgError) Error() string { return e.msg }
func (e *msgError) Unwrap() error { return e.class }

func errorf(class error, format string, args ...any) error {
	return &msgError{msg: sprintf(format, args...), class: class}
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }
