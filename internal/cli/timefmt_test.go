package cli

import (
	"testing"
	"time"
)

func TestParseTimestamp(t *testing.T) {
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Time
	}{
		{"10m", now.Add(-10 * time.Minute)},
		{"1h30m", now.Add(-90 * time.Minute)},
		{"2024-01-02T13:23:37Z", time.Date(2024, 1, 2, 13, 23, 37, 0, time.UTC)},
		{"2024-01-02T13:23:37.5+01:00", time.Date(2024, 1, 2, 12, 23, 37, 500_000_000, time.UTC)},
		{"1700000000", time.Unix(1_700_000_000, 0)},
		{"1700000000.25", time.Unix(1_700_000_000, 250_000_000)},
	}
	for _, tc := range tests {
		got, err := parseTimestamp(tc.in, now)
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("parseTimestamp(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	if got, err := parseTimestamp("2024-01-02", now); err != nil || got.Year() != 2024 || got.Day() != 2 {
		t.Errorf("date only: %v, %v", got, err)
	}
	for _, bad := range []string{"", "yesterday", "1.", "1.0123456789", "1.-5"} {
		if _, err := parseTimestamp(bad, now); err == nil {
			t.Errorf("parseTimestamp(%q) succeeded", bad)
		}
	}
}
