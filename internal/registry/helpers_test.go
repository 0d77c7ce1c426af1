package registry_test

import (
	"encoding/json"
	"strconv"
	"testing"
)

func itoa(n int) string { return strconv.Itoa(n) }

func mustJSON(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}
