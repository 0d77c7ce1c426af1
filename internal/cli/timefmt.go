package cli

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// rfc3339NanoFixed is Docker's timestamp layout for logs and events: always
// nine fractional digits.
const rfc3339NanoFixed = "2006-01-02T15:04:05.000000000Z07:00"

// parseTimestamp interprets a --since/--until/until= value as Docker does: a
// Go duration before now ("10m"), an RFC 3339 date or date-time, or unix
// seconds with optional fraction.
func parseTimestamp(value string, now time.Time) (time.Time, error) {
	if value == "" {
		return time.Time{}, fmt.Errorf("empty timestamp")
	}
	if d, err := time.ParseDuration(value); err == nil {
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, time.RFC3339, "2006-01-02T15:04:05.999999999",
		"2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02T15", "2006-01-02", "2006-01-02Z07:00"} {
		loc := time.Local
		if strings.ContainsAny(value, "Zz") || strings.Count(value, "+") > 0 || strings.Count(value, "-") > 2 {
			loc = time.UTC
		}
		if t, err := time.ParseInLocation(layout, value, loc); err == nil {
			return t, nil
		}
	}
	secStr, fracStr, hasFrac := strings.Cut(value, ".")
	sec, err := strconv.ParseInt(secStr, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("failed to parse value as time or duration: %q", value)
	}
	var nsec int64
	if hasFrac {
		if len(fracStr) > 9 || fracStr == "" {
			return time.Time{}, fmt.Errorf("failed to parse value as time or duration: %q", value)
		}
		n, err := strconv.ParseInt(fracStr, 10, 64)
		if err != nil || n < 0 {
			return time.Time{}, fmt.Errorf("failed to parse value as time or duration: %q", value)
		}
		nsec = n * int64(math.Pow10(9-len(fracStr)))
	}
	return time.Unix(sec, nsec), nil
}
