// Package filters parses and evaluates the Docker Engine API "filters" query
// parameter on the server side.
//
// Clients send a JSON object that maps each filter key to a set of values,
// either in the current form {"key":{"value":true}} or in the legacy form
// {"key":["value"]} (API < 1.22). Both parse to the same Args. A term (key) is
// satisfied when any one of its values matches; an item passes when every term
// is satisfied — except MatchKVList/MatchLabels, which follow Docker in
// requiring every label value of a key to match.
//
// # Matching
//
// Docker uses four kinds of value matching and each endpoint picks one per key;
// this package offers all four and leaves the choice to the caller:
//
//   - ExactMatch: the value equals one of the filter values (ids, states, types).
//   - FuzzyMatch: the value starts with one of the filter values (id prefixes,
//     as in the events "container" filter).
//   - Match: exact, or one of the filter values is an unanchored Go regexp that
//     matches (container and network "name" filters, as in dockerd).
//   - MatchKVList / MatchLabels: "label=k" and "label=k=v" against a label map,
//     with "label!" as the negated key.
//
// A key with no values (or absent) matches everything, as in Docker.
//
// Args is a plain map and is safe for concurrent readers; nothing in this
// package mutates an Args after Parse returns it.
package filters

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/containerd/errdefs"
)

// Args maps each filter key to its set of values. The zero value (nil) is an
// empty, read-only filter. Its underlying type is the same as the moby client's
// client.Filters, so the two convert with a plain conversion.
type Args map[string]map[string]bool

// InvalidFilterError is Docker's "invalid filter" error. It is classified as
// errdefs.ErrInvalidArgument.
type InvalidFilterError struct {
	// Filter is the offending key; empty when the whole parameter is malformed.
	Filter string
	// Values are the offending values, when they are the problem.
	Values []string
	// Err is the underlying cause, for a malformed parameter.
	Err error
}

// Error returns Docker's message: "invalid filter 'KEY'", "invalid filter
// 'KEY=[v1 v2]'", or "invalid filter: CAUSE".
func (e *InvalidFilterError) Error() string {
	msg := "invalid filter"
	if e.Filter != "" {
		msg += " '" + e.Filter
		if e.Values != nil {
			msg += fmt.Sprintf("=%s", e.Values)
		}
		msg += "'"
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap classifies the error as errdefs.ErrInvalidArgument.
func (e *InvalidFilterError) Unwrap() error { return errdefs.ErrInvalidArgument }

// maxParamLen bounds the filters parameter; Docker has no limit but an HTTP
// query string this long is hostile.
const maxParamLen = 1 << 20

// Parse decodes the filters query parameter. The empty string gives an empty
// Args. Each key may use the current set form or the legacy list form. JSON
// null for the whole parameter or a key is treated as empty. A value's boolean
// is ignored: presence in the set is membership (clients only send true).
// Malformed input returns an *InvalidFilterError (errdefs.ErrInvalidArgument).
func Parse(s string) (Args, error) {
	args := Args{}
	if s == "" {
		return args, nil
	}
	if len(s) > maxParamLen {
		return nil, &InvalidFilterError{Err: fmt.Errorf("parameter longer than %d bytes", maxParamLen)}
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &raw); err != nil {
		return nil, &InvalidFilterError{Err: err}
	}
	for key, val := range raw {
		set := map[string]bool{}
		var cur map[string]bool
		if err := json.Unmarshal(val, &cur); err == nil {
			for v := range cur {
				set[v] = true
			}
		} else {
			var legacy []string
			if lerr := json.Unmarshal(val, &legacy); lerr != nil {
				return nil, &InvalidFilterError{Filter: key, Err: err}
			}
			for _, v := range legacy {
				set[v] = true
			}
		}
		args[key] = set
	}
	return args, nil
}

// Get returns the values of key, sorted; nil when the key is absent.
func (a Args) Get(key string) []string {
	vals := a[key]
	if len(vals) == 0 {
		return nil
	}
	out := make([]string, 0, len(vals))
	for v := range vals {
		out = append(out, v)
	}
	slices.Sort(out)
	return out
}

// Keys returns the filter keys, sorted.
func (a Args) Keys() []string {
	out := make([]string, 0, len(a))
	for k := range a {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Contains reports whether key is present, even with no values.
func (a Args) Contains(key string) bool {
	_, ok := a[key]
	return ok
}

// Len returns the number of keys.
func (a Args) Len() int { return len(a) }

// Validate returns an *InvalidFilterError naming the first key (in sorted
// order) that is not in allowed: Docker's "invalid filter 'KEY'".
func (a Args) Validate(allowed map[string]bool) error {
	for _, k := range a.Keys() {
		if !allowed[k] {
			return &InvalidFilterError{Filter: k}
		}
	}
	return nil
}

// ExactMatch reports whether value equals one of key's values, or key has none.
func (a Args) ExactMatch(key, value string) bool {
	vals := a[key]
	if len(vals) == 0 {
		return true
	}
	return vals[value]
}

// UniqueExactMatch reports whether key has exactly one value and it equals
// value, or key has none.
func (a Args) UniqueExactMatch(key, value string) bool {
	vals := a[key]
	if len(vals) == 0 {
		return true
	}
	return len(vals) == 1 && vals[value]
}

// FuzzyMatch reports whether value equals or starts with one of key's values,
// or key has none. An empty filter value is a prefix of everything.
func (a Args) FuzzyMatch(key, value string) bool {
	vals := a[key]
	if len(vals) == 0 || vals[value] {
		return true
	}
	for v := range vals {
		if strings.HasPrefix(value, v) {
			return true
		}
	}
	return false
}

// Match reports whether value equals one of key's values, or one of them,
// read as an unanchored Go regular expression, matches value, or key has none.
// Values that do not compile as regexps only match exactly. Go's regexp engine
// runs in linear time, so hostile patterns cannot blow up.
func (a Args) Match(key, value string) bool {
	vals := a[key]
	if len(vals) == 0 || vals[value] {
		return true
	}
	for v := range vals {
		re, err := regexp.Compile(v)
		if err != nil {
			continue
		}
		if re.MatchString(value) {
			return true
		}
	}
	return false
}

// MatchKVList reports whether every value of key, read as "k" or "k=v",
// matches the map: "k" needs k present, "k=v" needs k present with value v.
// A key with no values matches; an empty map matches no values. This is
// Docker's semantics (all values must match, not any).
func (a Args) MatchKVList(key string, m map[string]string) bool {
	vals := a[key]
	if len(vals) == 0 {
		return true
	}
	if len(m) == 0 {
		return false
	}
	for v := range vals {
		k, want, hasValue := strings.Cut(v, "=")
		got, ok := m[k]
		if !ok || (hasValue && got != want) {
			return false
		}
	}
	return true
}

// MatchLabels applies the label filter key (usually "label") and its negation
// key+"!" to labels, as dockerd's prune and list endpoints do: every value of
// key must match (MatchKVList), and when key+"!" is present the labels must
// not match all of its values. Callers that accept "label!" must list it in
// Validate's allowed set.
func (a Args) MatchLabels(key string, labels map[string]string) bool {
	if !a.MatchKVList(key, labels) {
		return false
	}
	neg := key + "!"
	if len(a[neg]) > 0 && a.MatchKVList(neg, labels) {
		return false
	}
	return true
}

// With returns a copy of a with value added under key.
func (a Args) With(key, value string) Args {
	out := make(Args, len(a)+1)
	for k, vs := range a {
		m := make(map[string]bool, len(vs))
		for v := range vs {
			m[v] = true
		}
		out[k] = m
	}
	if out[key] == nil {
		out[key] = map[string]bool{}
	}
	out[key][value] = true
	return out
}
