package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strings"
	"text/tabwriter"
	"text/template"
	"unicode"
	"unicode/utf8"
)

// Docker's format keywords.
const (
	tableFormatKey = "table"
	jsonFormatKey  = "json"
)

// templateFuncs returns Docker's template functions (docker/cli
// templates.basicFunctions): json, split, join, title, lower, upper, pad,
// truncate and println.
func templateFuncs() template.FuncMap {
	return template.FuncMap{
		"json": func(v any) string {
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			if err := enc.Encode(v); err != nil {
				return ""
			}
			return strings.TrimSpace(buf.String())
		},
		"split":    strings.Split,
		"join":     strings.Join,
		"title":    titleCase,
		"lower":    strings.ToLower,
		"upper":    strings.ToUpper,
		"pad":      padWithSpace,
		"truncate": truncateWithLength,
		"println":  func(args ...any) string { return fmt.Sprintln(args...) },
	}
}

// titleCase upper-cases the first letter of every word, like the deprecated
// strings.Title that Docker's "title" function uses.
func titleCase(s string) string {
	prev := ' '
	return strings.Map(func(r rune) rune {
		isSep := unicode.IsSpace(prev) || unicode.IsPunct(prev) && prev != '\''
		prev = r
		if isSep {
			return unicode.ToTitle(r)
		}
		return r
	}, s)
}

func padWithSpace(source string, prefix, suffix int) string {
	if source == "" {
		return source
	}
	if prefix < 0 {
		prefix = 0
	}
	if suffix < 0 {
		suffix = 0
	}
	return strings.Repeat(" ", prefix) + source + strings.Repeat(" ", suffix)
}

func truncateWithLength(source string, length int) string {
	if length < 0 {
		length = 0
	}
	if len(source) < length {
		return source
	}
	return source[:length]
}

// parseTemplate parses a user --format template with Docker's functions.
func parseTemplate(format string) (*template.Template, error) {
	t, err := template.New("").Funcs(templateFuncs()).Parse(format)
	if err != nil {
		return nil, fmt.Errorf("template parsing error: %w", err)
	}
	return t, nil
}

// ellipsis shortens s to at most max runes, ending with "…" when cut, as
// Docker's formatter.Ellipsis does.
func ellipsis(s string, max int) string {
	if max <= 0 {
		return ""
	}
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	if max == 1 {
		return "…"
	}
	r := []rune(s)
	return string(r[:max-1]) + "…"
}

// truncateID returns the 12-character short form of an ID, without any
// "sha256:" algorithm prefix.
func truncateID(id string) string {
	if i := strings.IndexRune(id, ':'); i >= 0 {
		id = id[i+1:]
	}
	if len(id) > 12 {
		id = id[:12]
	}
	return id
}

// formatter is one row context: a value with methods for every field, able
// to answer with its column header instead of its value.
type formatter interface {
	// header returns a copy of the context that renders column headers.
	header() any
	// fields lists the field (method) names used for the "json" format.
	fields() []string
}

// listFormat describes how a list command renders: a user format string
// (possibly empty), the default table, and the quiet template.
type listFormat struct {
	format       string
	defaultTable string
	quiet        bool
	quietFormat  string
}

// resolve turns the user's --format and -q into the template to run and
// whether it is a table.
func (f listFormat) resolve() (tmpl string, table bool, isJSON bool) {
	format := strings.TrimSpace(f.format)
	switch {
	case format == jsonFormatKey:
		return "", false, true
	case f.quiet && (format == "" || format == tableFormatKey):
		return f.quietFormat, false, false
	case format == "" || format == tableFormatKey:
		format = f.defaultTable
	}
	if strings.HasPrefix(format, tableFormatKey) {
		table = true
		format = format[len(tableFormatKey):]
	}
	format = strings.Trim(format, " ")
	format = strings.NewReplacer(`\t`, "\t", `\n`, "\n").Replace(format)
	return format, table, false
}

// writeList renders rows to w as Docker does: a tab-aligned table with a
// header line (minwidth 10, padding 3), plain template lines, or one JSON
// object per line.
func writeList[T formatter](w io.Writer, f listFormat, rows []T) error {
	tmpl, table, isJSON := f.resolve()
	if isJSON {
		for _, r := range rows {
			b, err := json.Marshal(fieldMap(r))
			if err != nil {
				return fmt.Errorf("encode json: %w", err)
			}
			if _, err := fmt.Fprintln(w, string(b)); err != nil {
				return err
			}
		}
		return nil
	}
	t, err := parseTemplate(tmpl)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if table {
		var hdr any
		var zero T
		hdr = zero.header()
		if len(rows) > 0 {
			hdr = rows[0].header()
		}
		var hb bytes.Buffer
		if err := t.Execute(&hb, hdr); err == nil && strings.TrimSpace(hb.String()) != "" {
			buf.Write(hb.Bytes())
			buf.WriteByte('\n')
		}
	}
	for _, r := range rows {
		if err := t.Execute(&buf, r); err != nil {
			return fmt.Errorf("template: %w", err)
		}
		buf.WriteByte('\n')
	}
	if table {
		tw := tabwriter.NewWriter(w, 10, 1, 3, ' ', 0)
		if _, err := buf.WriteTo(tw); err != nil {
			return err
		}
		return tw.Flush()
	}
	_, err = buf.WriteTo(w)
	return err
}

// fieldMap evaluates every listed field of a row for the "json" format.
// Fields are methods; their values are encoded as they are, so a field
// that is not a string (ps's Platform) keeps its JSON form.
func fieldMap(r formatter) map[string]any {
	m := make(map[string]any)
	v := reflect.ValueOf(r)
	for _, name := range r.fields() {
		meth := v.MethodByName(name)
		if !meth.IsValid() || meth.Type().NumIn() != 0 || meth.Type().NumOut() != 1 {
			continue
		}
		m[name] = meth.Call(nil)[0].Interface()
	}
	return m
}

// parseTemplateWith parses a template with the given functions.
func parseTemplateWith(format string, funcs template.FuncMap) (*template.Template, error) {
	t, err := template.New("").Funcs(funcs).Parse(format)
	if err != nil {
		return nil, fmt.Errorf("template parsing error: %w", err)
	}
	return t, nil
}
