package dns

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	mdns "github.com/miekg/dns"
)

// fakeResolver answers from maps; names are lower case without the dot.
type fakeResolver struct {
	names map[string][]netip.Addr
	ptrs  map[netip.Addr]string
}

func (f *fakeResolver) Lookup(_ context.Context, _, name string, qtype uint16) ([]netip.Addr, bool) {
	all, ok := f.names[name]
	if !ok {
		return nil, false
	}
	var out []netip.Addr
	for _, a := range all {
		if a.Is4() == (qtype == mdns.TypeA) {
			out = append(out, a)
		}
	}
	return out, true
}

func (f *fakeResolver) LookupPTR(_ context.Context, _ string, a netip.Addr) (string, bool) {
	n, ok := f.ptrs[a]
	return n, ok
}

func testResolver() *fakeResolver {
	return &fakeResolver{
		names: map[string][]netip.Addr{
			"web":       {netip.MustParseAddr("172.18.0.2"), netip.MustParseAddr("fd00::2")},
			"web.mynet": {netip.MustParseAddr("172.18.0.2")},
			"db":        {netip.MustParseAddr("172.18.0.3")},
			"shared": {netip.MustParseAddr("172.18.0.4"), netip.MustParseAddr("172.18.0.5"),
				netip.MustParseAddr("172.18.0.6")},
		},
		ptrs: map[netip.Addr]string{
			netip.MustParseAddr("172.18.0.2"): "web.mynet",
			netip.MustParseAddr("fd00::2"):    "web.mynet",
		},
	}
}

func query(name string, qtype uint16) *mdns.Msg {
	m := new(mdns.Msg).SetQuestion(name, qtype)
	m.RecursionDesired = true
	return m
}

func answers(m *mdns.Msg) []string {
	var out []string
	for _, rr := range m.Answer {
		switch rr := rr.(type) {
		case *mdns.A:
			out = append(out, rr.A.String())
		case *mdns.AAAA:
			out = append(out, rr.AAAA.String())
		case *mdns.PTR:
			out = append(out, rr.Ptr)
		}
	}
	return out
}

func TestServer_AnswersLocalNames(t *testing.T) {
	s := &server{r: testResolver(), containerID: "c1", inFlight: make(chan struct{}, 1)}
	ctx := t.Context()
	for _, tc := range []struct {
		name  string
		qtype uint16
		rcode int
		want  string
	}{
		{"web.", mdns.TypeA, mdns.RcodeSuccess, "172.18.0.2"},
		{"WEB.", mdns.TypeA, mdns.RcodeSuccess, "172.18.0.2"},
		{"web.mynet.", mdns.TypeA, mdns.RcodeSuccess, "172.18.0.2"},
		{"web.", mdns.TypeAAAA, mdns.RcodeSuccess, "fd00::2"},
		{"db.", mdns.TypeAAAA, mdns.RcodeSuccess, ""}, // known, no IPv6: empty, not forwarded
		{"db.", mdns.TypeMX, mdns.RcodeSuccess, ""},
		{"2.0.18.172.in-addr.arpa.", mdns.TypePTR, mdns.RcodeSuccess, "web.mynet."},
		{"2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa.", mdns.TypePTR, mdns.RcodeSuccess, "web.mynet."},
		// Unknown names, with no upstream: SERVFAIL.
		{"nosuch.", mdns.TypeA, mdns.RcodeServerFailure, ""},
		{"example.com.", mdns.TypeTXT, mdns.RcodeServerFailure, ""},
		{"9.0.18.172.in-addr.arpa.", mdns.TypePTR, mdns.RcodeServerFailure, ""},
		{"0.18.172.in-addr.arpa.", mdns.TypePTR, mdns.RcodeServerFailure, ""},
	} {
		q := query(tc.name, tc.qtype)
		resp := s.answer(ctx, q, "udp")
		got := strings.Join(answers(resp), ",")
		if resp.Rcode != tc.rcode || got != tc.want {
			t.Errorf("%s %s: rcode %s answers %q, want %s %q", tc.name, mdns.TypeToString[tc.qtype],
				mdns.RcodeToString[resp.Rcode], got, mdns.RcodeToString[tc.rcode], tc.want)
		}
		if resp.Rcode == mdns.RcodeSuccess {
			if !resp.Response || !resp.RecursionAvailable || resp.Id != q.Id {
				t.Errorf("%s: header %+v", tc.name, resp.MsgHdr)
			}
			for _, rr := range resp.Answer {
				if rr.Header().Ttl != TTL {
					t.Errorf("%s: TTL %d, want %d", tc.name, rr.Header().Ttl, TTL)
				}
			}
		}
	}
}

func TestServer_RoundRobinForSharedAliases(t *testing.T) {
	s := &server{r: testResolver(), containerID: "c1"}
	firsts := map[string]int{}
	for range 6 {
		resp := s.answer(t.Context(), query("shared.", mdns.TypeA), "udp")
		got := answers(resp)
		if len(got) != 3 {
			t.Fatalf("answers %v, want 3", got)
		}
		firsts[got[0]]++
	}
	// Rotation: each address leads exactly twice in six answers.
	for _, a := range []string{"172.18.0.4", "172.18.0.5", "172.18.0.6"} {
		if firsts[a] != 2 {
			t.Fatalf("first answers %v: want each address first twice", firsts)
		}
	}
}

func TestServer_NdotsSetKeepsSingleLabelsLocal(t *testing.T) {
	s := &server{r: testResolver(), containerID: "c1", opts: options{ndotsSet: true}}
	resp := s.answer(t.Context(), query("nosuch.", mdns.TypeA), "udp")
	if resp.Rcode != mdns.RcodeSuccess || len(resp.Answer) != 0 {
		t.Fatalf("single label with ndots set: %v", resp)
	}
	resp = s.answer(t.Context(), query("nosuch.example.", mdns.TypeA), "udp")
	if resp.Rcode != mdns.RcodeServerFailure {
		t.Fatalf("dotted name with ndots set and no upstream: %s", mdns.RcodeToString[resp.Rcode])
	}
}

func TestServer_TruncatesLargeUDPAnswers(t *testing.T) {
	r := &fakeResolver{names: map[string][]netip.Addr{}}
	var many []netip.Addr
	for i := range 100 {
		many = append(many, netip.AddrFrom4([4]byte{10, 0, 1, byte(i)}))
	}
	r.names["big"] = many
	s := &server{r: r, containerID: "c1"}
	udp := s.answer(t.Context(), query("big.", mdns.TypeA), "udp")
	if !udp.Truncated || udp.Len() > mdns.MinMsgSize {
		t.Errorf("UDP answer: truncated %v, %d bytes", udp.Truncated, udp.Len())
	}
	tcp := s.answer(t.Context(), query("big.", mdns.TypeA), "tcp")
	if tcp.Truncated || len(tcp.Answer) != 100 {
		t.Errorf("TCP answer: truncated %v, %d answers", tcp.Truncated, len(tcp.Answer))
	}
}

func TestServer_FormatErrorWithoutOneQuestion(t *testing.T) {
	s := &server{r: testResolver()}
	m := new(mdns.Msg)
	if resp := s.answer(t.Context(), m, "udp"); resp.Rcode != mdns.RcodeFormatError {
		t.Fatalf("no question: %s", mdns.RcodeToString[resp.Rcode])
	}
}

func TestParseReverse(t *testing.T) {
	for _, tc := range []struct {
		name string
		want string // "" = not a full reverse name
	}{
		{"4.3.2.1.in-addr.arpa", "1.2.3.4"},
		{"255.0.0.10.in-addr.arpa", "10.0.0.255"},
		{"256.0.0.10.in-addr.arpa", ""},
		{"01.0.0.10.in-addr.arpa", ""},
		{"3.2.1.in-addr.arpa", ""},
		{"a.3.2.1.in-addr.arpa", ""},
		{"in-addr.arpa", ""},
		{"1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa", "fd00::1"},
		{"1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.ip6.arpa", ""},
		{"g.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa", ""},
		{"example.com", ""},
	} {
		a, ok := parseReverse(tc.name)
		if (tc.want == "") == ok || ok && a.String() != tc.want {
			t.Errorf("parseReverse(%q) = %v, %v; want %q", tc.name, a, ok, tc.want)
		}
	}
}

func FuzzParseReverse(f *testing.F) {
	for _, s := range []string{"4.3.2.1.in-addr.arpa", "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa",
		"..in-addr.arpa", "999.1.1.1.in-addr.arpa", ".ip6.arpa", "\x00.in-addr.arpa"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		a, ok := parseReverse(name)
		if !ok {
			return
		}
		rev, err := mdns.ReverseAddr(a.String())
		if err != nil || strings.TrimSuffix(rev, ".") != name {
			t.Fatalf("parseReverse(%q) = %s, which reverses to %q", name, a, rev)
		}
	})
}
