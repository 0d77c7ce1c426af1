package cli

import (
	"strings"
	"testing"
)

func TestParsePublish(t *testing.T) {
	tests := []struct {
		in      string
		want    []string // "port hostIP hostPort"
		wantErr string
	}{
		{in: "80", want: []string{"80/tcp  "}},
		{in: "8080:80", want: []string{"80/tcp  8080"}},
		{in: "8080:80/udp", want: []string{"80/udp  8080"}},
		{in: "127.0.0.1:8080:80", want: []string{"80/tcp 127.0.0.1 8080"}},
		{in: "127.0.0.1::80", want: []string{"80/tcp 127.0.0.1 "}},
		{in: "[::1]:8080:80", want: []string{"80/tcp ::1 8080"}},
		{in: "8000-8001:80-81", want: []string{"80/tcp  8000", "81/tcp  8001"}},
		{in: "8000-8010:80", want: []string{"80/tcp  8000-8010"}},
		{in: "80-81/SCTP", want: []string{"80/sctp  ", "81/sctp  "}},
		{in: "", wantErr: "no port specified"},
		{in: "8080:", wantErr: "no port specified"},
		{in: "abc", wantErr: "invalid containerPort"},
		{in: "x:80", wantErr: "invalid hostPort"},
		{in: "1.2.3:80:80", wantErr: "invalid IP address"},
		{in: "80/icmp", wantErr: "invalid proto"},
		{in: "8000-8001:80-82", wantErr: "invalid ranges"},
		{in: "70000", wantErr: "invalid containerPort"},
		{in: "81-80", wantErr: "invalid containerPort"},
		{in: "[::1:80:80", wantErr: "invalid IP address"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parsePublish(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var s []string
			for _, m := range got {
				ip := ""
				if m.binding.HostIP.IsValid() {
					ip = m.binding.HostIP.String()
				}
				s = append(s, m.port.String()+" "+ip+" "+m.binding.HostPort)
			}
			if strings.Join(s, "|") != strings.Join(tc.want, "|") {
				t.Fatalf("got %q, want %q", s, tc.want)
			}
		})
	}
}

func TestParseExpose(t *testing.T) {
	ports, err := parseExpose("7000-7002/udp")
	if err != nil || len(ports) != 3 || ports[2].String() != "7002/udp" {
		t.Fatalf("got %v, %v", ports, err)
	}
	for _, bad := range []string{"80:80", "x", "80/foo", "9-1"} {
		if _, err := parseExpose(bad); err == nil {
			t.Errorf("parseExpose(%q) succeeded", bad)
		}
	}
}
