// Package logmsg holds the log message type shared by the logger package and
// its drivers. It exists only to break the import cycle between logger (which
// picks a driver) and the drivers (which take its messages); use it through
// the alias logger.Message.
package logmsg

import "time"

// Message is one chunk of a container's output.
type Message struct {
	// Line is the output, including its trailing "\n" when it had one; a
	// partial line (no newline yet) is logged as it comes.
	Line []byte
	// Source is the stream: "stdout" or "stderr".
	Source string
	// Timestamp is when the output was read.
	Timestamp time.Time
}
