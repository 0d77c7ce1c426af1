package logger_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"

	"berth/internal/logger"
	"berth/internal/logger/jsonfile"
)

func TestNew_Drivers(t *testing.T) {
	for _, name := range []string{"", "json-file"} {
		t.Run("json-file "+name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c-json.log")
			d, err := logger.New(name, path, map[string]string{"max-size": "1m", "mode": "non-blocking", "max-buffer-size": "4m"})
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := d.(*jsonfile.Writer); !ok {
				t.Fatalf("driver is %T", d)
			}
			if err := d.Log(&logger.Message{Line: []byte("hi\n"), Source: "stdout", Timestamp: time.Unix(0, 0)}); err != nil {
				t.Fatal(err)
			}
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(string(b), `{"log":"hi\n","stream":"stdout","time":"1970-01-01T00:00:00.000000000Z"}`) {
				t.Fatalf("file holds %q", b)
			}
		})
	}
	t.Run("none", func(t *testing.T) {
		dir := t.TempDir()
		d, err := logger.New("none", filepath.Join(dir, "x"), map[string]string{"whatever": "1"})
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := d.(logger.None); !ok {
			t.Fatalf("driver is %T", d)
		}
		if err := d.Log(&logger.Message{Line: []byte("x")}); err != nil {
			t.Fatal(err)
		}
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Fatalf("none driver wrote %v", entries)
		}
	})
}

func TestValidateOptions(t *testing.T) {
	tests := []struct {
		name    string
		driver  string
		opts    map[string]string
		wantErr string
	}{
		{"json-file ok", "json-file", map[string]string{"max-size": "10m", "max-file": "3"}, ""},
		{"default driver", "", map[string]string{"max-file": "3"}, ""},
		{"none takes anything", "none", map[string]string{"bogus": "x", "mode": "weird"}, ""},
		{"unknown driver", "splunk", nil, "logger: no log driver named 'splunk' is registered"},
		{"unknown opt", "json-file", map[string]string{"foo": "bar"}, "unknown log opt 'foo' for json-file log driver"},
		{"bad value", "json-file", map[string]string{"max-file": "0"}, "max-file cannot be less than 1"},
		{"bad mode", "json-file", map[string]string{"mode": "fast"}, "logger: logging mode not supported: fast"},
		{"buffer without non-blocking", "json-file", map[string]string{"max-buffer-size": "1m"},
			"logger: max-buffer-size option is only supported with 'mode=non-blocking'"},
		{"bad buffer", "json-file", map[string]string{"mode": "non-blocking", "max-buffer-size": "huge"},
			"error parsing option max-buffer-size: invalid size: 'huge'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := logger.ValidateOptions(tt.driver, tt.opts)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || err.Error() != tt.wantErr || !errdefs.IsInvalidArgument(err) {
				t.Fatalf("err = %v, want %q (invalid argument)", err, tt.wantErr)
			}
			if _, err := logger.New(tt.driver, filepath.Join(t.TempDir(), "log"), tt.opts); err == nil {
				t.Fatal("New accepted what ValidateOptions rejects")
			}
		})
	}
}
