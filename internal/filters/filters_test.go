package filters_test

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"berth/internal/filters"
)

func TestParse_Forms(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want filters.Args
	}{
		{"empty", "", filters.Args{}},
		{"null", "null", filters.Args{}},
		{"current", `{"label":{"a=b":true,"c":true},"status":{"running":true}}`,
			filters.Args{"label": {"a=b": true, "c": true}, "status": {"running": true}}},
		{"legacy", `{"label":["a=b","c"],"status":["running"]}`,
			filters.Args{"label": {"a=b": true, "c": true}, "status": {"running": true}}},
		{"mixed per key", `{"a":["x"],"b":{"y":true}}`, filters.Args{"a": {"x": true}, "b": {"y": true}}},
		{"false is membership", `{"a":{"x":false}}`, filters.Args{"a": {"x": true}}},
		{"key with null", `{"a":null}`, filters.Args{"a": {}}},
		{"empty set", `{"a":{}}`, filters.Args{"a": {}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := filters.Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Parse(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParse_Malformed(t *testing.T) {
	for _, in := range []string{"{", "[]", `"x"`, `{"a":1}`, `{"a":"x"}`, `{"a":[1]}`, `{"a":{"x":1}}`, "nope"} {
		t.Run(in, func(t *testing.T) {
			_, err := filters.Parse(in)
			if err == nil {
				t.Fatal("no error")
			}
			if !errdefs.IsInvalidArgument(err) {
				t.Fatalf("error %v is not invalid argument", err)
			}
			var fe *filters.InvalidFilterError
			if !errors.As(err, &fe) {
				t.Fatalf("error %T is not *InvalidFilterError", err)
			}
		})
	}
}

func TestParse_ClientRoundTrip(t *testing.T) {
	// The moby client sends client.Filters marshalled as JSON; Args must read it
	// back as the same set.
	f := make(client.Filters).Add("label", "a=b", "c").Add("dangling", "true")
	got, err := filters.Parse(`{"dangling":{"true":true},"label":{"a=b":true,"c":true}}`)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(client.Filters(got), f) {
		t.Fatalf("got %v, want %v", got, f)
	}
}

func TestArgs_Accessors(t *testing.T) {
	a := filters.Args{"b": {"2": true, "1": true}, "a": {}}
	if got := a.Get("b"); !reflect.DeepEqual(got, []string{"1", "2"}) {
		t.Errorf("Get = %v", got)
	}
	if got := a.Get("zzz"); got != nil {
		t.Errorf("Get(absent) = %v", got)
	}
	if !a.Contains("a") || a.Contains("c") {
		t.Error("Contains wrong")
	}
	if a.Len() != 2 {
		t.Errorf("Len = %d", a.Len())
	}
	if got := a.Keys(); !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Errorf("Keys = %v", got)
	}
	var nilArgs filters.Args
	if nilArgs.Len() != 0 || nilArgs.Contains("x") || !nilArgs.Match("x", "y") {
		t.Error("nil Args misbehaves")
	}
}

func TestArgs_Validate(t *testing.T) {
	a := filters.Args{"label": {"x": true}, "bogus": {"y": true}}
	err := a.Validate(map[string]bool{"label": true})
	if err == nil || err.Error() != "invalid filter 'bogus'" {
		t.Fatalf("Validate = %v, want invalid filter 'bogus'", err)
	}
	if !errdefs.IsInvalidArgument(err) {
		t.Fatal("not invalid argument")
	}
	if err := a.Validate(map[string]bool{"label": true, "bogus": true}); err != nil {
		t.Fatal(err)
	}
}

func TestArgs_Matchers(t *testing.T) {
	a := filters.Args{
		"name":  {"^web": true, "db": true, "[bad": true},
		"id":    {"abc": true},
		"empty": {},
		"two":   {"x": true, "y": true},
	}
	tests := []struct {
		name string
		fn   func(key, value string) bool
		key  string
		val  string
		want bool
	}{
		{"exact hit", a.ExactMatch, "id", "abc", true},
		{"exact prefix is miss", a.ExactMatch, "id", "abcdef", false},
		{"exact absent key", a.ExactMatch, "nokey", "x", true},
		{"exact empty set", a.ExactMatch, "empty", "x", true},
		{"fuzzy prefix", a.FuzzyMatch, "id", "abcdef", true},
		{"fuzzy miss", a.FuzzyMatch, "id", "xabc", false},
		{"regexp anchored", a.Match, "name", "webserver", true},
		{"regexp unanchored", a.Match, "name", "mydb1", true},
		{"regexp miss", a.Match, "name", "cache", false},
		{"bad regexp exact", a.Match, "name", "[bad", true},
		{"unique two values", a.UniqueExactMatch, "two", "x", false},
		{"unique one value", a.UniqueExactMatch, "id", "abc", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.fn(tt.key, tt.val); got != tt.want {
				t.Fatalf("%s(%q, %q) = %v, want %v", tt.name, tt.key, tt.val, got, tt.want)
			}
		})
	}
}

func TestArgs_MatchLabels(t *testing.T) {
	labels := map[string]string{"env": "prod", "team": "a"}
	tests := []struct {
		name string
		args filters.Args
		in   map[string]string
		want bool
	}{
		{"no filter", filters.Args{}, labels, true},
		{"key present", filters.Args{"label": {"env": true}}, labels, true},
		{"key absent", filters.Args{"label": {"zone": true}}, labels, false},
		{"key=value", filters.Args{"label": {"env=prod": true}}, labels, true},
		{"key=other", filters.Args{"label": {"env=dev": true}}, labels, false},
		{"all must match", filters.Args{"label": {"env=prod": true, "zone": true}}, labels, false},
		{"empty value", filters.Args{"label": {"env=": true}}, map[string]string{"env": ""}, true},
		{"no labels", filters.Args{"label": {"env": true}}, nil, false},
		{"negated hit", filters.Args{"label!": {"env=prod": true}}, labels, false},
		{"negated miss", filters.Args{"label!": {"env=dev": true}}, labels, true},
		{"negated on unlabelled", filters.Args{"label!": {"env": true}}, nil, true},
		{"both", filters.Args{"label": {"team=a": true}, "label!": {"env=dev": true}}, labels, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.args.MatchLabels("label", tt.in); got != tt.want {
				t.Fatalf("MatchLabels = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestArgs_GetBoolOrDefault(t *testing.T) {
	tests := []struct {
		name    string
		args    filters.Args
		want    bool
		wantErr string
	}{
		{"absent", filters.Args{}, true, ""},
		{"true", filters.Args{"dangling": {"true": true}}, true, ""},
		{"1", filters.Args{"dangling": {"1": true}}, true, ""},
		{"false", filters.Args{"dangling": {"false": true}}, false, ""},
		{"0", filters.Args{"dangling": {"0": true}}, false, ""},
		{"conflict", filters.Args{"dangling": {"true": true, "0": true}}, true, "invalid filter 'dangling=[0 true]'"},
		{"junk", filters.Args{"dangling": {"maybe": true}}, true, "invalid filter 'dangling=[maybe]'"},
		{"empty", filters.Args{"dangling": {}}, true, "invalid filter 'dangling'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.args.GetBoolOrDefault("dangling", true)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr || !errdefs.IsInvalidArgument(err) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestParseTime(t *testing.T) {
	loc := time.FixedZone("X", 2*3600)
	now := time.Date(2024, 6, 1, 12, 0, 0, 0, loc)
	tests := []struct {
		in   string
		want time.Time
	}{
		{"10m", now.Add(-10 * time.Minute)},
		{"1h30m", now.Add(-90 * time.Minute)},
		{"-5s", now.Add(5 * time.Second)},
		{"0", time.Unix(0, 0)},
		{"1700000000", time.Unix(1700000000, 0)},
		{"1700000000.5", time.Unix(1700000000, 500000000)},
		{"1700000000.000000001", time.Unix(1700000000, 1)},
		{"1700000000.1234567891", time.Unix(1700000000, 123456789)},
		{"2024-01-01T00:00:00Z", time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"2024-01-01T00:00:00.25Z", time.Date(2024, 1, 1, 0, 0, 0, 250000000, time.UTC)},
		{"2024-01-01T01:00:00+01:00", time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"2024-01-01T03:04", time.Date(2024, 1, 1, 3, 4, 0, 0, loc)},
		{"2024-01-01T03", time.Date(2024, 1, 1, 3, 0, 0, 0, loc)},
		{"2024-01-01T03:04:05", time.Date(2024, 1, 1, 3, 4, 5, 0, loc)},
		{"2024-01-01", time.Date(2024, 1, 1, 0, 0, 0, 0, loc)},
		{"2024-01-01Z", time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := filters.ParseTime(tt.in, now)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(tt.want) {
				t.Fatalf("ParseTime(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
	for _, bad := range []string{"", "abc", "-1", "1.2.3", "12a", "2024-13-01", "1.", ".5", "10x"} {
		t.Run("bad "+bad, func(t *testing.T) {
			if _, err := filters.ParseTime(bad, now); !errdefs.IsInvalidArgument(err) {
				t.Fatalf("ParseTime(%q) err = %v, want invalid argument", bad, err)
			}
		})
	}
}

func TestArgs_GetTime(t *testing.T) {
	now := time.Unix(1000, 0)
	got, err := filters.Args{}.GetTime("until", now)
	if err != nil || !got.IsZero() {
		t.Fatalf("absent: %v %v", got, err)
	}
	got, err = filters.Args{"until": {"10s": true}}.GetTime("until", now)
	if err != nil || !got.Equal(time.Unix(990, 0)) {
		t.Fatalf("10s: %v %v", got, err)
	}
	_, err = filters.Args{"until": {"10s": true, "20s": true}}.GetTime("until", now)
	if !errdefs.IsInvalidArgument(err) {
		t.Fatalf("two values: %v", err)
	}
	_, err = filters.Args{"until": {"soon": true}}.GetTime("until", now)
	if !errdefs.IsInvalidArgument(err) {
		t.Fatalf("bad value: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	seeds := []string{
		"", "{}", "null", `{"a":{"b":true}}`, `{"a":["b"]}`, `{"a":null}`,
		`{"a":{"b":1}}`, `{"a":[{}]}`, `[[[[[[[[[[`, `{"a":{"\u0000":true}}`,
		`{"label":{"a=b":true},"label!":["c"]}`, "\xff\xfe", `{"a":` + string(make([]byte, 100)),
		`{"a":{"b":true},"a":["c"]}`, `{"name":{"(a+)+$":true}}`,
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := filters.Parse(s)
		if err != nil {
			if !errdefs.IsInvalidArgument(err) {
				t.Fatalf("error not invalid argument: %v", err)
			}
			return
		}
		// Every accessor must be total on what Parse returns.
		for _, k := range a.Keys() {
			for _, v := range a.Get(k) {
				if !a.ExactMatch(k, v) || !a.FuzzyMatch(k, v) || !a.Match(k, v) {
					t.Fatalf("value %q of %q does not match itself", v, k)
				}
			}
			a.MatchLabels(k, map[string]string{"a": "b"})
			_, _ = a.GetBoolOrDefault(k, false)
			_, _ = a.GetTime(k, time.Unix(0, 0))
		}
		_ = a.Validate(map[string]bool{})
	})
}
