package filters

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/errdefs"
)

// GetBoolOrDefault returns the boolean value of key ("1"/"true" or
// "0"/"false"), or def when key is absent. A key with no values, or with
// neither or both truth values, is an *InvalidFilterError, as in dockerd
// (e.g. "dangling").
func (a Args) GetBoolOrDefault(key string, def bool) (bool, error) {
	vals, ok := a[key]
	if !ok {
		return def, nil
	}
	if len(vals) == 0 {
		return def, &InvalidFilterError{Filter: key}
	}
	isFalse := vals["0"] || vals["false"]
	isTrue := vals["1"] || vals["true"]
	if isFalse == isTrue {
		return def, &InvalidFilterError{Filter: key, Values: a.Get(key)}
	}
	return isTrue, nil
}

// GetTime returns the single time value of key (e.g. "until" in the prune
// endpoints), parsed by ParseTime relative to now. It returns the zero time
// when key is absent. More than one value is Docker's "more than one KEY
// filter specified" (errdefs.ErrInvalidArgument).
func (a Args) GetTime(key string, now time.Time) (time.Time, error) {
	vals := a.Get(key)
	switch len(vals) {
	case 0:
		return time.Time{}, nil
	case 1:
	default:
		return time.Time{}, fmt.Errorf("more than one %s filter specified: %w", key, errdefs.ErrInvalidArgument)
	}
	t, err := ParseTime(vals[0], now)
	if err != nil {
		return time.Time{}, fmt.Errorf("filter %s: %w", key, err)
	}
	return t, nil
}

// ParseTime parses a since/until value the way Docker's timetypes package
// does, accepting:
//
//   - a Go duration ("10m", "1h30m"), meaning that long before now; "0" is
//     not a duration but the Unix epoch;
//   - RFC 3339 with or without fraction and zone ("2006-01-02T15:04:05Z",
//     "2006-01-02T15:04:05.999+02:00", "2006-01-02T15:04", "2006-01-02"); a
//     value without zone is read in now's location;
//   - Unix seconds with an optional fraction of up to nine digits
//     ("1700000000", "1700000000.123456789"), which is what the docker CLI sends.
//
// Errors are errdefs.ErrInvalidArgument.
func ParseTime(value string, now time.Time) (time.Time, error) {
	if value != "0" {
		if d, err := time.ParseDuration(value); err == nil {
			return now.Add(-d), nil
		}
	}
	if t, ok := parseUnix(value); ok {
		return t, nil
	}
	if strings.Contains(value, "-") {
		if t, ok := parseRFC3339ish(value, now.Location()); ok {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("failed to parse value as time or duration: %q: %w", value, errdefs.ErrInvalidArgument)
}

// parseUnix parses "SECONDS[.FRACTION]" with digits only.
func parseUnix(value string) (time.Time, bool) {
	sec, frac, hasFrac := strings.Cut(value, ".")
	if !allDigits(sec) || (hasFrac && !allDigits(frac)) {
		return time.Time{}, false
	}
	s, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	var ns int64
	if hasFrac {
		if len(frac) > 9 {
			frac = frac[:9]
		}
		n, err := strconv.ParseInt(frac+strings.Repeat("0", 9-len(frac)), 10, 64)
		if err != nil {
			return time.Time{}, false
		}
		ns = n
	}
	return time.Unix(s, ns), true
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// parseRFC3339ish tries RFC 3339 variants in order; zoned layouts parse with
// time.Parse, the others in loc, as Docker's GetTimestamp does.
func parseRFC3339ish(value string, loc *time.Location) (time.Time, bool) {
	layouts := [...]struct {
		layout string
		zoned  bool
	}{
		{time.RFC3339Nano, true},
		{"2006-01-02T15:04Z07:00", true},
		{"2006-01-02T15Z07:00", true},
		{"2006-01-02Z07:00", true},
		{"2006-01-02T15:04:05.999999999", false},
		{"2006-01-02T15:04", false},
		{"2006-01-02T15", false},
		{"2006-01-02", false},
	}
	for _, l := range layouts {
		var t time.Time
		var err error
		if l.zoned {
			t, err = time.Parse(l.layout, value)
		} else {
			t, err = time.ParseInLocation(l.layout, value, loc)
		}
		if err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}
