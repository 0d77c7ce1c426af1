package image

import (
	"encoding/json"
	"fmt"
	"maps"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/moby/sys/signal"
)

// changeCommands are the Dockerfile instructions `docker import --change`
// and `docker commit --change` accept (dockerd's validCommitCommands).
var changeCommands = []string{
	"cmd", "entrypoint", "healthcheck", "env", "expose", "label", "onbuild",
	"stopsignal", "user", "volume", "workdir",
}

// maxChangeLen bounds the total text of the changes; Dockerfiles are small.
const maxChangeLen = 1 << 20

// ApplyChanges applies Dockerfile instructions, as `docker import --change`
// and `docker commit --change` give them, to cfg in order. Accepted are CMD,
// ENTRYPOINT, ENV, EXPOSE, HEALTHCHECK, LABEL, ONBUILD, STOPSIGNAL, USER,
// VOLUME and WORKDIR, in JSON or shell form where Docker accepts both; ENV,
// LABEL, EXPOSE, USER, VOLUME, WORKDIR and STOPSIGNAL expand $VAR and
// ${VAR} from the environment built so far. Any other instruction, or a
// malformed one, is errdefs.ErrInvalidArgument with Docker's message; cfg is
// then left unchanged.
func ApplyChanges(cfg *dockerspec.DockerOCIImageConfig, changes []string) error {
	if len(changes) == 0 {
		return nil
	}
	total := 0
	for _, c := range changes {
		total += len(c)
	}
	if total > maxChangeLen {
		return invalid("changes exceed %d bytes", maxChangeLen)
	}
	work := cloneConfig(*cfg)
	st := &changeState{cfg: &work}
	for _, line := range changeLines(strings.Join(changes, "\n")) {
		instr, rest := splitInstruction(line)
		if !slices.Contains(changeCommands, instr) {
			return invalid("%s is not a valid change command", instr)
		}
		if err := st.apply(instr, rest, line); err != nil {
			return err
		}
	}
	*cfg = work
	return nil
}

func cloneConfig(c dockerspec.DockerOCIImageConfig) dockerspec.DockerOCIImageConfig {
	c.Env = slices.Clone(c.Env)
	c.Cmd = slices.Clone(c.Cmd)
	c.Entrypoint = slices.Clone(c.Entrypoint)
	c.OnBuild = slices.Clone(c.OnBuild)
	c.Shell = slices.Clone(c.Shell)
	c.Labels = maps.Clone(c.Labels)
	c.ExposedPorts = maps.Clone(c.ExposedPorts)
	c.Volumes = maps.Clone(c.Volumes)
	if c.Healthcheck != nil {
		h := *c.Healthcheck
		h.Test = slices.Clone(h.Test)
		c.Healthcheck = &h
	}
	return c
}

// changeLines splits Dockerfile text into logical lines: "\" at the end of a
// line continues it, and blank lines and "#" comments are dropped.
func changeLines(text string) []string {
	var out []string
	var cur strings.Builder
	for raw := range strings.SplitSeq(text, "\n") {
		line := strings.TrimRight(raw, " \t\r")
		trimmed := strings.TrimSpace(line)
		if cur.Len() == 0 && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if strings.HasSuffix(line, `\`) {
			cur.WriteString(strings.TrimSuffix(line, `\`))
			continue
		}
		cur.WriteString(line)
		out = append(out, strings.TrimSpace(cur.String()))
		cur.Reset()
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		out = append(out, s)
	}
	return out
}

// splitInstruction returns the lowercased instruction word and the rest.
func splitInstruction(line string) (string, string) {
	i := strings.IndexAny(line, " \t")
	if i < 0 {
		return strings.ToLower(line), ""
	}
	return strings.ToLower(line[:i]), strings.TrimSpace(line[i+1:])
}

type changeState struct {
	cfg    *dockerspec.DockerOCIImageConfig
	cmdSet bool
}

func (st *changeState) apply(instr, rest, line string) error {
	c := st.cfg
	upper := strings.ToUpper(instr)
	switch instr {
	case "cmd":
		c.Cmd = st.commandLine(rest)
		st.cmdSet = true
	case "entrypoint":
		c.Entrypoint = st.commandLine(rest)
		if !st.cmdSet {
			c.Cmd = nil
		}
	case "env":
		kvs, err := st.nameValues(upper, rest)
		if err != nil {
			return err
		}
		for _, kv := range kvs {
			c.Env = setEnv(c.Env, kv[0], kv[1])
		}
	case "label":
		kvs, err := st.nameValues(upper, rest)
		if err != nil {
			return err
		}
		if c.Labels == nil {
			c.Labels = map[string]string{}
		}
		for _, kv := range kvs {
			c.Labels[kv[0]] = kv[1]
		}
	case "expose":
		words, err := st.words(rest)
		if err != nil {
			return err
		}
		if len(words) == 0 {
			return invalid("EXPOSE requires at least one argument")
		}
		for _, w := range words {
			ports, err := parseExpose(w)
			if err != nil {
				return err
			}
			if c.ExposedPorts == nil {
				c.ExposedPorts = map[string]struct{}{}
			}
			for _, p := range ports {
				c.ExposedPorts[p] = struct{}{}
			}
		}
	case "user":
		words, err := st.words(rest)
		if err != nil {
			return err
		}
		if len(words) != 1 {
			return invalid("USER requires exactly one argument")
		}
		c.User = words[0]
	case "workdir":
		words, err := st.words(rest)
		if err != nil {
			return err
		}
		if len(words) != 1 {
			return invalid("WORKDIR requires exactly one argument")
		}
		w := words[0]
		if !path.IsAbs(w) {
			w = path.Join("/", c.WorkingDir, w)
		}
		c.WorkingDir = w
	case "volume":
		var vols []string
		if arr, ok := parseJSONArray(rest); ok {
			vols = arr
		} else {
			words, err := st.words(rest)
			if err != nil {
				return err
			}
			vols = words
		}
		if len(vols) == 0 {
			return invalid("VOLUME requires at least one argument")
		}
		for _, v := range vols {
			v = strings.TrimSpace(v)
			if v == "" {
				return invalid("VOLUME specified can not be an empty string")
			}
			if c.Volumes == nil {
				c.Volumes = map[string]struct{}{}
			}
			c.Volumes[v] = struct{}{}
		}
	case "stopsignal":
		words, err := st.words(rest)
		if err != nil {
			return err
		}
		if len(words) != 1 {
			return invalid("STOPSIGNAL requires exactly one argument")
		}
		if _, err := signal.ParseSignal(words[0]); err != nil {
			return invalidErr(err)
		}
		c.StopSignal = words[0]
	case "onbuild":
		if rest == "" {
			return invalid("ONBUILD requires at least one argument")
		}
		trigger, _ := splitInstruction(rest)
		switch trigger {
		case "onbuild":
			return invalid("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
		case "from", "maintainer":
			return invalid("%s isn't allowed as an ONBUILD trigger", strings.ToUpper(trigger))
		}
		c.OnBuild = append(c.OnBuild, rest)
	case "healthcheck":
		hc, err := parseHealthcheck(rest)
		if err != nil {
			return err
		}
		c.Healthcheck = hc
	}
	return nil
}

// commandLine is CMD/ENTRYPOINT: a JSON array is the exec form, anything
// else runs through the shell (the config's SHELL, or /bin/sh -c).
func (st *changeState) commandLine(rest string) []string {
	if arr, ok := parseJSONArray(rest); ok {
		return arr
	}
	shell := st.cfg.Shell
	if len(shell) == 0 {
		shell = []string{"/bin/sh", "-c"}
	}
	return append(slices.Clone(shell), rest)
}

// parseJSONArray parses the exec form: a JSON array of strings.
func parseJSONArray(s string) ([]string, bool) {
	if !strings.HasPrefix(s, "[") {
		return nil, false
	}
	var arr []string
	if err := json.Unmarshal([]byte(s), &arr); err != nil {
		return nil, false
	}
	if arr == nil {
		arr = []string{}
	}
	return arr, true
}

// nameValues parses ENV and LABEL: "k=v k2=v2" or the legacy "k v w".
func (st *changeState) nameValues(instr, rest string) ([][2]string, error) {
	if rest == "" {
		return nil, invalid("%s requires at least one argument", instr)
	}
	first, _, _ := strings.Cut(rest, " ")
	first, _, _ = strings.Cut(first, "\t")
	if !strings.Contains(first, "=") {
		k, v, ok := strings.Cut(strings.Replace(rest, "\t", " ", 1), " ")
		if !ok || strings.TrimSpace(v) == "" {
			return nil, invalid("%s must have two arguments", instr)
		}
		val, err := st.expandWord(strings.TrimSpace(v))
		if err != nil {
			return nil, err
		}
		return [][2]string{{k, val}}, nil
	}
	words, err := st.words(rest)
	if err != nil {
		return nil, err
	}
	var out [][2]string
	for _, w := range words {
		k, v, ok := strings.Cut(w, "=")
		if !ok {
			return nil, invalid("Syntax error - can't find = in %q. Must be of the form: name=value", w)
		}
		if k == "" {
			return nil, invalid("%s names can not be blank", instr)
		}
		out = append(out, [2]string{k, v})
	}
	return out, nil
}

func setEnv(env []string, k, v string) []string {
	for i, e := range env {
		if name, _, _ := strings.Cut(e, "="); name == k {
			env[i] = k + "=" + v
			return env
		}
	}
	return append(env, k+"="+v)
}

func (st *changeState) getenv(name string) (string, bool) {
	for _, e := range slices.Backward(st.cfg.Env) {
		if k, v, ok := strings.Cut(e, "="); ok && k == name {
			return v, true
		}
	}
	return "", false
}

// words splits s into shell words with quotes, backslash escapes and
// variable expansion from the environment built so far.
func (st *changeState) words(s string) ([]string, error) {
	return shellWords(s, st.getenv, true)
}

// expandWord expands variables in s without splitting it.
func (st *changeState) expandWord(s string) (string, error) {
	w, err := shellWords(s, st.getenv, false)
	if err != nil {
		return "", err
	}
	return strings.Join(w, ""), nil
}

// shellWords is a small Dockerfile word lexer: single quotes are literal,
// double quotes allow $ expansion and backslash escapes, an unquoted
// backslash escapes the next character. With split false the whole input is
// one word (spaces kept).
func shellWords(s string, getenv func(string) (string, bool), split bool) ([]string, error) {
	var out []string
	var cur strings.Builder
	inWord := false
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case split && (r == ' ' || r == '\t'):
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		case r == '\'':
			inWord = true
			j := i + 1
			for j < len(rs) && rs[j] != '\'' {
				j++
			}
			if j >= len(rs) {
				return nil, invalid("unexpected end of statement while looking for matching single-quote")
			}
			cur.WriteString(string(rs[i+1 : j]))
			i = j
		case r == '"':
			inWord = true
			j := i + 1
			for ; j < len(rs) && rs[j] != '"'; j++ {
				switch {
				case rs[j] == '\\' && j+1 < len(rs) && (rs[j+1] == '"' || rs[j+1] == '\\' || rs[j+1] == '$'):
					j++
					cur.WriteRune(rs[j])
				case rs[j] == '$':
					n, v, err := expandVar(rs[j:], getenv)
					if err != nil {
						return nil, err
					}
					if cur.Len()+len(v) > maxChangeLen {
						return nil, invalid("variable expansion exceeds %d bytes", maxChangeLen)
					}
					cur.WriteString(v)
					j += n - 1
				default:
					cur.WriteRune(rs[j])
				}
			}
			if j >= len(rs) {
				return nil, invalid("unexpected end of statement while looking for matching double-quote")
			}
			i = j
		case r == '\\':
			inWord = true
			if i+1 < len(rs) {
				i++
				cur.WriteRune(rs[i])
			}
		case r == '$':
			inWord = true
			n, v, err := expandVar(rs[i:], getenv)
			if err != nil {
				return nil, err
			}
			if cur.Len()+len(v) > maxChangeLen {
				return nil, invalid("variable expansion exceeds %d bytes", maxChangeLen)
			}
			cur.WriteString(v)
			i += n - 1
		default:
			inWord = true
			cur.WriteRune(r)
		}
	}
	if inWord || (!split && len(out) == 0) {
		out = append(out, cur.String())
	}
	return out, nil
}

// expandVar expands the variable at the start of rs ("$NAME", "${NAME}",
// "${NAME:-word}", "${NAME:+word}") and returns how many runes it used.
func expandVar(rs []rune, getenv func(string) (string, bool)) (int, string, error) {
	if len(rs) < 2 {
		return 1, "$", nil
	}
	isName := func(r rune, first bool) bool {
		return r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (!first && r >= '0' && r <= '9')
	}
	if rs[1] != '{' {
		j := 1
		for j < len(rs) && isName(rs[j], j == 1) {
			j++
		}
		if j == 1 {
			return 1, "$", nil
		}
		v, _ := getenv(string(rs[1:j]))
		return j, v, nil
	}
	end := -1
	for j := 2; j < len(rs); j++ {
		if rs[j] == '}' {
			end = j
			break
		}
	}
	if end < 0 {
		return 0, "", invalid("missing '}' in substitution")
	}
	body := string(rs[2:end])
	name, mod, hasMod := strings.Cut(body, ":")
	if name == "" {
		return 0, "", invalid("bad substitution: ${%s}", body)
	}
	for k, r := range name {
		if !isName(r, k == 0) {
			return 0, "", invalid("bad substitution: ${%s}", body)
		}
	}
	v, set := getenv(name)
	if hasMod {
		switch {
		case strings.HasPrefix(mod, "-"):
			if !set || v == "" {
				v = mod[1:]
			}
		case strings.HasPrefix(mod, "+"):
			if set && v != "" {
				v = mod[1:]
			} else {
				v = ""
			}
		default:
			return 0, "", invalid("unsupported modifier (%s) in substitution", mod)
		}
	}
	return end + 1, v, nil
}

// parseExpose parses one EXPOSE word: "80", "80/tcp", "8000-8010/udp".
func parseExpose(w string) ([]string, error) {
	port, proto, ok := strings.Cut(w, "/")
	if !ok {
		proto = "tcp"
	}
	proto = strings.ToLower(proto)
	switch proto {
	case "tcp", "udp", "sctp":
	default:
		return nil, invalid("invalid proto: %s", proto)
	}
	if strings.Contains(port, ":") {
		return nil, invalid("invalid containerPort: %s", w)
	}
	lo, hi, isRange := strings.Cut(port, "-")
	start, err := strconv.ParseUint(lo, 10, 16)
	if err != nil {
		return nil, invalid("invalid containerPort: %s", port)
	}
	end := start
	if isRange {
		end, err = strconv.ParseUint(hi, 10, 16)
		if err != nil || end < start {
			return nil, invalid("invalid range specified for containerPort: %s", port)
		}
	}
	var out []string
	for p := start; p <= end; p++ {
		out = append(out, fmt.Sprintf("%d/%s", p, proto))
	}
	return out, nil
}

// parseHealthcheck parses "NONE" or "[--flags] CMD …".
func parseHealthcheck(rest string) (*dockerspec.HealthcheckConfig, error) {
	hc := &dockerspec.HealthcheckConfig{}
	for strings.HasPrefix(rest, "--") {
		flag, after, _ := strings.Cut(rest, " ")
		rest = strings.TrimSpace(after)
		name, val, ok := strings.Cut(strings.TrimPrefix(flag, "--"), "=")
		if !ok {
			return nil, invalid("missing a value on flag: %s", flag)
		}
		switch name {
		case "interval", "timeout", "start-period", "start-interval":
			d, err := parseHealthDuration(name, val)
			if err != nil {
				return nil, err
			}
			switch name {
			case "interval":
				hc.Interval = d
			case "timeout":
				hc.Timeout = d
			case "start-period":
				hc.StartPeriod = d
			default:
				hc.StartInterval = d
			}
		case "retries":
			n, err := strconv.ParseInt(val, 10, 32)
			if err != nil {
				return nil, invalidErr(err)
			}
			if n < 0 {
				return nil, invalid("--retries cannot be negative (%d)", n)
			}
			hc.Retries = int(n)
		default:
			return nil, invalid("unknown flag: %s", name)
		}
	}
	typ, args := splitInstruction(rest)
	switch typ {
	case "none":
		if args != "" || hc.Interval != 0 || hc.Timeout != 0 || hc.StartPeriod != 0 || hc.StartInterval != 0 || hc.Retries != 0 {
			return nil, invalid("HEALTHCHECK NONE takes no arguments")
		}
		hc.Test = []string{"NONE"}
	case "cmd":
		if args == "" {
			return nil, invalid("Missing command after HEALTHCHECK CMD")
		}
		if arr, ok := parseJSONArray(args); ok {
			hc.Test = append([]string{"CMD"}, arr...)
		} else {
			hc.Test = []string{"CMD-SHELL", args}
		}
	case "":
		return nil, invalid("HEALTHCHECK requires at least one argument")
	default:
		return nil, invalid("Unknown type %q in HEALTHCHECK (try CMD)", strings.ToUpper(typ))
	}
	return hc, nil
}

func parseHealthDuration(name, val string) (time.Duration, error) {
	if val == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(val)
	if err != nil {
		return 0, invalidErr(err)
	}
	if d < 0 {
		return 0, invalid("Interval %q cannot be negative", name)
	}
	if d != 0 && d < time.Millisecond {
		return 0, invalid("Interval %q cannot be less than %s", name, time.Millisecond)
	}
	return d, nil
}
