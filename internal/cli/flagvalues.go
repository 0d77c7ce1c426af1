package cli

import (
	"fmt"
	"sort"
	"strings"
)

// labelList is docker's `--label list` flag value: repeatable key=value
// pairs, a bare key meaning an empty value, an empty key rejected while the
// flags are parsed (so the error is a flag error, status 125).
type labelList struct {
	values []string
}

// String returns the values as pflag prints them; empty when unset, so
// that help shows no default.
func (l *labelList) String() string {
	if len(l.values) == 0 {
		return ""
	}
	return "[" + strings.Join(l.values, " ") + "]"
}

// Set validates and appends one value.
func (l *labelList) Set(v string) error {
	if k, _, _ := strings.Cut(v, "="); k == "" {
		return fmt.Errorf("invalid label '%s': empty name", v)
	}
	l.values = append(l.values, v)
	return nil
}

// Type is the value's name in help output.
func (*labelList) Type() string { return "list" }

// Map returns the labels as a map; later values win.
func (l *labelList) Map() map[string]string {
	m := make(map[string]string, len(l.values))
	for _, v := range l.values {
		k, val, _ := strings.Cut(v, "=")
		m[k] = val
	}
	return m
}

// optMap is docker's `map` flag value (-o/--opt): key=value pairs, a bare
// key meaning an empty value.
type optMap struct {
	values map[string]string
}

// String returns the map as pflag prints defaults: "map[k:v]".
func (m *optMap) String() string {
	keys := make([]string, 0, len(m.values))
	for k := range m.values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + ":" + m.values[k]
	}
	return "map[" + strings.Join(parts, " ") + "]"
}

// Set adds one key=value.
func (m *optMap) Set(v string) error {
	if m.values == nil {
		m.values = map[string]string{}
	}
	k, val, _ := strings.Cut(v, "=")
	m.values[k] = val
	return nil
}

// Type is the value's name in help output.
func (*optMap) Type() string { return "map" }

// Map returns the options, never nil.
func (m *optMap) Map() map[string]string {
	out := make(map[string]string, len(m.values))
	for k, v := range m.values {
		out[k] = v
	}
	return out
}

// naturalLess orders strings the way docker sorts names in `volume ls` and
// `network ls`: runs of digits compare by numeric value ("net9" < "net10"),
// digits sort before other bytes, and everything else compares bytewise.
func naturalLess(a, b string) bool {
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		ca, cb := a[i], b[j]
		da, db := isDigit(ca), isDigit(cb)
		if da != db {
			return da
		}
		if !da {
			if ca != cb {
				return ca < cb
			}
			i++
			j++
			continue
		}
		// Both at a number: skip leading zeros, then compare the rest by
		// length and then digit by digit.
		for i < len(a) && a[i] == '0' {
			i++
		}
		for j < len(b) && b[j] == '0' {
			j++
		}
		si, sj := i, j
		for i < len(a) && isDigit(a[i]) {
			i++
		}
		for j < len(b) && isDigit(b[j]) {
			j++
		}
		na, nb := a[si:i], b[sj:j]
		if len(na) != len(nb) {
			return len(na) < len(nb)
		}
		if na != nb {
			return na < nb
		}
		// Same value: fewer leading zeros first.
		if si != sj {
			return si < sj
		}
	}
	return len(a)-i < len(b)-j
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
