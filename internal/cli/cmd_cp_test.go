package cli

import "testing"

func TestSplitCpArg(t *testing.T) {
	for _, tc := range []struct{ in, ctr, path string }{
		{"c:/etc", "c", "/etc"}, {"/a:b", "", "/a:b"}, {"./x:y", "", "./x:y"}, {"-", "", "-"}, {"plain", "", "plain"},
	} {
		got := splitCpArg(tc.in)
		if got.container != tc.ctr || got.path != tc.path {
			t.Errorf("splitCpArg(%q) = %+v", tc.in, got)
		}
	}
}

func TestRename(t *testing.T) {
	for _, tc := range []struct{ name, from, to, want string }{
		{"etc/", "etc", "dst", "dst"}, {"etc/passwd", "etc", "dst", "dst/passwd"}, {"./x", ".", "d", "d/x"},
		{"./", ".", "d", "d"}, {"other/x", "etc", "d", "other/x"}, {"../../x", "x", "y", "y"},
	} {
		if got := rename(tc.name, tc.from, tc.to); got != tc.want {
			t.Errorf("rename(%q, %q, %q) = %q, want %q", tc.name, tc.from, tc.to, got, tc.want)
		}
	}
}
