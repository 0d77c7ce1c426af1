package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/moby/moby/api/types/jsonstream"
)

// displayJSONMessages prints a daemon JSON message stream (import, load)
// the way docker prints it without a terminal: "stream" texts as they are,
// statuses one per line (prefixed with the ID when present), progress bars
// left out. An error message in the stream ends it and is returned.
func displayJSONMessages(r io.Reader, w io.Writer) error {
	dec := json.NewDecoder(r)
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
		if m.Progress != nil && m.Stream == "" && (m.Progress.Current != 0 || m.Progress.Total != 0) {
			continue
		}
		if m.ID != "" {
			fmt.Fprintf(w, "%s: ", m.ID)
		}
		switch {
		case m.Stream != "":
			fmt.Fprint(w, m.Stream)
		case m.Status != "" || m.ID != "":
			fmt.Fprintln(w, m.Status)
		}
	}
}
