package image

import (
	"encoding/base64"
	"testing"
)

func TestAuthFromHeader(t *testing.T) {
	js := `{"username":"u","password":"p+/?","serveraddress":"reg"}`
	for _, tc := range []struct {
		name, in string
		user     string
		err      bool
	}{
		{"empty", "", "", false},
		{"empty object", "e30=", "", false},
		{"url encoding", base64.URLEncoding.EncodeToString([]byte(js)), "u", false},
		{"std encoding", base64.StdEncoding.EncodeToString([]byte(js)), "u", false},
		{"raw url", base64.RawURLEncoding.EncodeToString([]byte(js)), "u", false},
		{"garbage", "!!!", "", true},
		{"not json", base64.URLEncoding.EncodeToString([]byte("nope")), "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := AuthFromHeader(tc.in)
			if (err != nil) != tc.err || a.Username != tc.user {
				t.Fatalf("got %+v, %v", a, err)
			}
		})
	}
}
