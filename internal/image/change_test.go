package image_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/containerd/errdefs"
	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"

	"berth/internal/image"
)

func TestApplyChanges(t *testing.T) {
	tests := []struct {
		name    string
		changes []string
		check   func(c dockerspec.DockerOCIImageConfig) string
		want    string
	}{
		{"cmd exec form", []string{`CMD ["a", "b c"]`}, func(c dockerspec.DockerOCIImageConfig) string { return fmt.Sprintf("%q", c.Cmd) }, `["a" "b c"]`},
		{"cmd shell form", []string{`cmd echo $HOME`}, func(c dockerspec.DockerOCIImageConfig) string { return fmt.Sprintf("%q", c.Cmd) }, `["/bin/sh" "-c" "echo $HOME"]`},
		{"entrypoint clears cmd", []string{`CMD x`, `ENTRYPOINT ["e"]`}, func(c dockerspec.DockerOCIImageConfig) string { return fmt.Sprintf("%q %q", c.Entrypoint, c.Cmd) }, `["e"] ["/bin/sh" "-c" "x"]`},
		{"entrypoint first", []string{`ENTRYPOINT ["e"]`}, func(c dockerspec.DockerOCIImageConfig) string {
			return fmt.Sprintf("%q %v", c.Entrypoint, c.Cmd == nil)
		}, `["e"] true`},
		{"env forms", []string{`ENV A=1 B="x y"`, `ENV C hello there`, `ENV A=${A}2 D=${NOPE:-dflt}`}, func(c dockerspec.DockerOCIImageConfig) string { return fmt.Sprintf("%q", c.Env) }, `["A=12" "B=x y" "C=hello there" "D=dflt"]`},
		{"expose", []string{`EXPOSE 80 53/UDP 7000-7001`}, func(c dockerspec.DockerOCIImageConfig) string {
			return fmt.Sprint(len(c.ExposedPorts), c.ExposedPorts["53/udp"], c.ExposedPorts["7001/tcp"])
		}, `4 {} {}`},
		{"label", []string{`LABEL a=b "c d"='e f'`}, func(c dockerspec.DockerOCIImageConfig) string { return fmt.Sprint(c.Labels) }, `map[a:b c d:e f]`},
		{"workdir relative", []string{`WORKDIR /a`, `WORKDIR b/../c`}, func(c dockerspec.DockerOCIImageConfig) string { return c.WorkingDir }, `/a/c`},
		{"volume", []string{`VOLUME /a /b`, `VOLUME ["/c"]`}, func(c dockerspec.DockerOCIImageConfig) string { return fmt.Sprint(len(c.Volumes)) }, `3`},
		{"healthcheck none", []string{`HEALTHCHECK NONE`}, func(c dockerspec.DockerOCIImageConfig) string { return fmt.Sprint(c.Healthcheck.Test) }, `[NONE]`},
		{"healthcheck exec", []string{`HEALTHCHECK --interval=30s CMD ["curl", "-f"]`}, func(c dockerspec.DockerOCIImageConfig) string {
			return fmt.Sprint(c.Healthcheck.Test, c.Healthcheck.Interval)
		}, `[CMD curl -f] 30s`},
		{"continuation and comment", []string{"# note\nUSER \\\n  nobody"}, func(c dockerspec.DockerOCIImageConfig) string { return c.User }, `nobody`},
		{"onbuild", []string{`ONBUILD ADD . /app`}, func(c dockerspec.DockerOCIImageConfig) string { return fmt.Sprint(c.OnBuild) }, `[ADD . /app]`},
		{"stopsignal", []string{`STOPSIGNAL 15`}, func(c dockerspec.DockerOCIImageConfig) string { return c.StopSignal }, `15`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c dockerspec.DockerOCIImageConfig
			if err := image.ApplyChanges(&c, tt.changes); err != nil {
				t.Fatal(err)
			}
			if got := tt.check(c); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestApplyChanges_Errors(t *testing.T) {
	tests := []struct{ change, msg string }{
		{"RUN make", "run is not a valid change command"},
		{"COPY a b", "copy is not a valid change command"},
		{"ENV", "ENV requires at least one argument"},
		{"ENV A", "ENV must have two arguments"},
		{"ENV A=1 B", `Syntax error - can't find = in "B". Must be of the form: name=value`},
		{"EXPOSE", "EXPOSE requires at least one argument"},
		{"EXPOSE 80/xyz", "invalid proto: xyz"},
		{"USER a b", "USER requires exactly one argument"},
		{"WORKDIR", "WORKDIR requires exactly one argument"},
		{`VOLUME [""]`, "VOLUME specified can not be an empty string"},
		{"ONBUILD ONBUILD RUN x", "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"},
		{"ONBUILD FROM x", "FROM isn't allowed as an ONBUILD trigger"},
		{"HEALTHCHECK CMD", "Missing command after HEALTHCHECK CMD"},
		{"HEALTHCHECK FOO x", `Unknown type "FOO" in HEALTHCHECK (try CMD)`},
		{"HEALTHCHECK NONE x", "HEALTHCHECK NONE takes no arguments"},
		{"STOPSIGNAL BOGUS", "invalid signal: BOGUS"},
	}
	for _, tt := range tests {
		t.Run(tt.change, func(t *testing.T) {
			c := dockerspec.DockerOCIImageConfig{}
			c.User = "keep"
			err := image.ApplyChanges(&c, []string{"USER changed", tt.change})
			if !errors.Is(err, errdefs.ErrInvalidArgument) || err.Error() != tt.msg {
				t.Errorf("got %v, want %q", err, tt.msg)
			}
			if c.User != "keep" {
				t.Errorf("config changed on error: user %q", c.User)
			}
		})
	}
}
