package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/jsonstream"
)

// displayProgressTTY renders a JSON message stream on a terminal as docker
// does: one line per ID, rewritten in place as its status and bar change.
func displayProgressTTY(r io.Reader, w io.Writer) error {
	dec := json.NewDecoder(r)
	lines := map[string]int{}
	n := 0
	for {
		var m jsonstream.Message
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("decode daemon response: %w", err)
		}
		if m.Error != nil {
			return errors.New(m.Error.Message)
		}
		text := m.Status
		if m.Progress != nil && m.Progress.Total > 0 {
			text += " " + progressBar(m.Progress.Current, m.Progress.Total)
		}
		if m.ID == "" {
			if m.Status != "" {
				fmt.Fprintln(w, m.Status)
				n, lines = 0, map[string]int{}
			}
			continue
		}
		line, ok := lines[m.ID]
		if !ok {
			lines[m.ID] = n
			n++
			fmt.Fprintf(w, "%s: %s\n", m.ID, text)
			continue
		}
		up := n - line
		fmt.Fprintf(w, "\x1b[%dA\r\x1b[2K%s: %s\x1b[%dB\r", up, m.ID, text, up)
	}
}

// progressBar is docker's "[=====>     ]  1.2MB/3.4MB".
func progressBar(current, total int64) string {
	const width = 50
	done := int(float64(width) * float64(min(current, total)) / float64(total))
	bar := strings.Repeat("=", done)
	if done < width {
		bar += ">" + strings.Repeat(" ", width-done-1)
	}
	return fmt.Sprintf("[%s] %8s/%s", bar, units.HumanSize(float64(current)), units.HumanSize(float64(total)))
}
