package jsonfile

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"berth/internal/logger/logmsg"
)

// timeLayout is RFC 3339 with a fixed nine-digit fraction, as dockerd writes
// it, so entries sort and align.
const timeLayout = "2006-01-02T15:04:05.000000000Z07:00"

// appendEntry appends m as one json-file line:
//
//	{"log":"text\n","stream":"stdout","time":"2024-01-01T00:00:00.000000000Z"}
//
// The string escaping is byte-for-byte what encoding/json produces (HTML
// characters, U+2028/U+2029 escaped; invalid UTF-8 replaced by U+FFFD), which
// is also what dockerd writes.
func appendEntry(dst []byte, m *logmsg.Message, ts time.Time) []byte {
	dst = append(dst, `{"log":`...)
	dst = appendJSONString(dst, m.Line)
	dst = append(dst, `,"stream":`...)
	dst = appendJSONString(dst, m.Source)
	dst = append(dst, `,"time":"`...)
	dst = ts.UTC().AppendFormat(dst, timeLayout)
	return append(dst, "\"}\n"...)
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a quoted JSON string.
func appendJSONString[S string | []byte](dst []byte, s S) []byte {
	dst = append(dst, '"')
	done := 0 // s[:done] is already in dst
	flush := func(i int) { dst = append(dst, s[done:i]...) }
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			var esc string
			switch {
			case c == '"':
				esc = `\"`
			case c == '\\':
				esc = `\\`
			case c == '\n':
				esc = `\n`
			case c == '\r':
				esc = `\r`
			case c == '\t':
				esc = `\t`
			case c == '\b':
				esc = `\b`
			case c == '\f':
				esc = `\f`
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				flush(i)
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
				i++
				done = i
				continue
			default:
				i++
				continue
			}
			flush(i)
			dst = append(dst, esc...)
			i++
			done = i
			continue
		}
		var buf [utf8.UTFMax]byte
		n := copy(buf[:], s[i:])
		r, size := utf8.DecodeRune(buf[:n])
		switch {
		case r == utf8.RuneError && size == 1:
			flush(i)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			flush(i)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		done = i
	}
	flush(len(s))
	return append(dst, '"')
}

// entry is a decoded json-file line. Unknown fields (dockerd's "attrs") are
// ignored.
type entry struct {
	Log    *string   `json:"log"`
	Stream string    `json:"stream"`
	Time   time.Time `json:"time"`
}

// errNoLog is returned for a JSON object without a "log" field.
var errNoLog = errors.New(`missing "log" field`)

// decodeLine parses one json-file line (with or without its trailing
// newline) into a Message.
func decodeLine(line []byte) (*logmsg.Message, error) {
	var e entry
	if err := json.Unmarshal(line, &e); err != nil {
		return nil, fmt.Errorf("decode json-file entry: %w", err)
	}
	if e.Log == nil {
		return nil, fmt.Errorf("decode json-file entry: %w", errNoLog)
	}
	return &logmsg.Message{Line: []byte(*e.Log), Source: e.Stream, Timestamp: e.Time}, nil
}
