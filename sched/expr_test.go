package sched

import (
	"errors"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

func TestParseExpr(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		key   string
		op    Op
		value string
		soft  bool
		err   string // the rule broken, as ExprError.Msg
	}{
		{name: "equality splits key and value", in: "zone==eu", key: "zone", op: OpEq, value: "eu"},
		{name: "inequality", in: "zone!=eu", key: "zone", op: OpNe, value: "eu"},
		{name: "== is tried before != anywhere in the text", in: "node!=a==b", err: "Key 'node!=a' is invalid"},
		{name: "the value keeps a later !=", in: "foo==bar!=baz", key: "foo", op: OpEq, value: "bar!=baz", err: "Value 'bar!=baz' is invalid"},
		{name: "a single = is no operator", in: "name=node0", err: "One of operator ==, != is expected"},
		{name: "=! is no operator", in: "name=!node0", err: "One of operator ==, != is expected"},
		{name: "no operator at all", in: "1node", err: "One of operator ==, != is expected"},
		{name: "a one-character key is invalid", in: "a==b", err: "Key 'a' is invalid"},
		{name: "a key may start with an underscore", in: "_k==v", key: "_k", op: OpEq, value: "v"},
		{name: "a key may not start with a digit", in: "1k==v", err: "Key '1k' is invalid"},
		{name: "keys keep dots, dashes and case", in: "com.Docker-x_y==v", key: "com.Docker-x_y", op: OpEq, value: "v"},
		{name: "a key with a space is invalid, quoted raw", in: "node ==x", err: "Key 'node ' is invalid"},
		{name: "a key with a star is invalid", in: "no*de==x", err: "Key 'no*de' is invalid"},
		{name: "an empty value is invalid", in: "zone==", err: "Value '' is invalid"},
		{name: "soft marker", in: "zone==~eu", key: "zone", op: OpEq, value: "eu", soft: true},
		{name: "soft inequality", in: "container!=~redis*", key: "container", op: OpNe, value: "redis*", soft: true},
		{name: "two soft markers are invalid", in: "zone==~~eu", err: "Value '~~eu' is invalid"},
		{name: "a trailing tilde is invalid", in: "zone==~us~", err: "Value '~us~' is invalid"},
		{name: "a leading = survives and is not soft", in: "key===~x", key: "key", op: OpEq, value: "=~x"},
		{name: "key===x has the value =x", in: "key===x", key: "key", op: OpEq, value: "=x"},
		{name: "key!=!x has the value !x", in: "key!=!x", key: "key", op: OpNe, value: "!x"},
		{name: "braces are invalid", in: `node==/node\d{2}/`, err: `Value '/node\d{2}/' is invalid`},
		{name: "digests are invalid", in: "image==redis@sha256:abc", err: "Value 'redis@sha256:abc' is invalid"},
		{name: "commas are invalid", in: "node==a,b", err: "Value 'a,b' is invalid"},
		{name: "non-ASCII is invalid", in: "zone==zürich", err: "Value 'zürich' is invalid"},
		{name: "whitespace is a value character", in: "os==Debian GNU/Linux 12", key: "os", op: OpEq, value: "Debian GNU/Linux 12"},
		{name: "regex characters are value characters", in: `node==/(?i)node[12]\.x$|^y+/`, key: "node", op: OpEq, value: `/(?i)node[12]\.x$|^y+/`},
		{name: "a pattern that does not compile is malformed", in: "key==a(", err: "pattern 'a(' does not compile: missing closing )"},
		{name: "so is its negation", in: "key!=a(", err: "pattern 'a(' does not compile: missing closing )"},
		{name: "a regex that does not compile is malformed", in: "key==/a[/", err: "pattern '/a[/' does not compile: missing closing ]"},
		{name: "a lone slash is malformed", in: "key==/", err: "Value '/' is invalid: a regular expression needs /…/ around it"},
		{name: "a soft lone slash is malformed", in: "key==~/", err: "Value '/' is invalid: a regular expression needs /…/ around it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := ParseExpr(KindConstraint, tt.in)
			if tt.err != "" {
				var ee *ExprError
				if !errors.As(err, &ee) {
					t.Fatalf("ParseExpr(%q) = %v, %v; want an *ExprError %q", tt.in, e, err, tt.err)
				}
				if ee.Msg != tt.err || ee.Expr != tt.in {
					t.Fatalf("ParseExpr(%q) error = {Expr %q, Msg %q}; want Msg %q", tt.in, ee.Expr, ee.Msg, tt.err)
				}
				if want := `invalid constraint "` + tt.in + `": ` + tt.err; err.Error() != want {
					t.Fatalf("Error() = %q; want %q", err.Error(), want)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseExpr(%q): %v", tt.in, err)
			}
			if e.Key != tt.key || e.Op != tt.op || e.Value != tt.value || e.Soft != tt.soft {
				t.Fatalf("ParseExpr(%q) = key %q op %v value %q soft %v; want %q %v %q %v",
					tt.in, e.Key, e.Op, e.Value, e.Soft, tt.key, tt.op, tt.value, tt.soft)
			}
		})
	}
}

func TestExprErrorNamesItsKind(t *testing.T) {
	_, err := ParseExpr(KindAffinity, "image==~~x")
	if want := `invalid affinity "image==~~x": Value '~~x' is invalid`; err == nil || err.Error() != want {
		t.Fatalf("got %v; want %s", err, want)
	}
}

func TestMatches(t *testing.T) {
	tests := []struct {
		name   string
		expr   string
		values []string
		want   bool
	}{
		{"exact value", "kk==node1", []string{"node1"}, true},
		{"exact value is case-sensitive", "kk==node1", []string{"Node1"}, false},
		{"a glob star matches any run", "kk==us*", []string{"us-east-1"}, true},
		{"a glob is anchored at the start", "kk==us*", []string{"eu-us"}, false},
		{"a glob is anchored at the end", "kk==*east", []string{"us-east-1"}, false},
		{"a dot matches any one character", "kk==node.1", []string{"nodex1"}, true},
		{"a dot needs a character", "kk==node.1", []string{"node1"}, false},
		{"a question mark makes the previous character optional", "kk==node?", []string{"nod"}, true},
		{"brackets are a character class", "kk==foo[bar]", []string{"foob"}, true},
		{"brackets do not match themselves", "kk==foo[bar]", []string{"foo[bar]"}, false},
		{"alternation is anchored as a whole (swarmdeck)", "kk==us-west|eu", []string{"us-west"}, true},
		{"alternation matches the second exactly", "kk==us-west|eu", []string{"eu"}, true},
		{"alternation does not match a prefix (Swarm did)", "kk==us-west|eu", []string{"us-west-2"}, false},
		{"alternation does not match a suffix (Swarm did)", "kk==us-west|eu", []string{"neu"}, false},
		{"(?i) makes a glob case-insensitive", "kk==(?i)NODE*", []string{"node-1"}, true},
		{"a regex is unanchored", "kk==/node[12]/", []string{"my-node2-x"}, true},
		{"a regex with \\d", `kk==/node\d/`, []string{"node7"}, true},
		{"a regex with escaped brackets", `kk==/foo\[bar\]/`, []string{"foo[bar]"}, true},
		{"a regex with (?i)", "kk==/(?i)node1/", []string{"NoDe1"}, true},
		{"an empty regex matches everything", "kk==//", []string{"anything"}, true},
		{"any of several values is enough for ==", "node==n2", []string{"ID1", "n2"}, true},
		{"!= needs no value to match", "node!=n2", []string{"ID1", "n2"}, false},
		{"!= holds when none matches", "node!=n3", []string{"ID1", "n2"}, true},
		{"no values: == is false", "kk==*", nil, false},
		{"no values: != is true", "kk!=*", nil, true},
		{"a missing label reads as empty and matches *", "kk==*", []string{""}, true},
		{"a missing label does not equal bar", "kk!=bar", []string{""}, true},
		{"!=* matches no node, even one without the label", "kk!=*", []string{""}, false},
		{"soft marker is not part of the pattern", "kk==~eu", []string{"eu"}, true},
		{"a star does not cross a newline (as the regexp would not)", "kk==a*b", []string{"a\nb"}, false},
		{"a dot matches one multi-byte character", "kk==z.rich", []string{"zürich"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := ParseExpr(KindConstraint, tt.expr)
			if err != nil {
				t.Fatal(err)
			}
			if got := e.Matches(tt.values...); got != tt.want {
				t.Fatalf("%s.Matches(%q) = %v; want %v", tt.expr, tt.values, got, tt.want)
			}
		})
	}
}

// reference is the matcher as the spec states it, with the regexp engine:
// ^(?:value with * → .*)$.
func reference(v string) *regexp.Regexp {
	return regexp.MustCompile(`^(?:` + strings.ReplaceAll(v, "*", ".*") + `)$`)
}

func TestGlobMatchAgreesWithTheRegexpItReplaces(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const pat, sub = "ab.*", "abc.\n*ü"
	pick := func(alpha string, n int) string {
		r := []rune(alpha)
		var b strings.Builder
		for range n {
			b.WriteRune(r[rng.IntN(len(r))])
		}
		return b.String()
	}
	for range 20000 {
		p, s := pick(pat, rng.IntN(6)), pick(sub, rng.IntN(8))
		if got, want := globMatch(p, s), reference(p).MatchString(s); got != want {
			t.Fatalf("globMatch(%q, %q) = %v; the regexp says %v", p, s, got, want)
		}
	}
}

// FuzzParseExpr checks that no input panics the parser or the matchers,
// and that the fast matchers agree with the regexp they stand in for.
func FuzzParseExpr(f *testing.F) {
	for _, s := range []string{"zone==eu", "node!=/node[12]/", "kk==~us*", "kk===~x", "a==b", "kk==/", "kk==a(", "kk==n.d*e", "kk==(?i)X|y"} {
		f.Add(s, "node-1")
	}
	f.Fuzz(func(t *testing.T, expr, value string) {
		e, err := ParseExpr(KindConstraint, expr)
		if err != nil {
			var ee *ExprError
			if !errors.As(err, &ee) || ee.Expr != expr {
				t.Fatalf("ParseExpr(%q) error %v is not an *ExprError naming the expression", expr, err)
			}
			return
		}
		got := e.Matches(value)
		if e.m.kind != matchRegexp {
			if want := reference(e.Value).MatchString(value) == (e.Op == OpEq); got != want {
				t.Fatalf("%q.Matches(%q) = %v; the regexp says %v", expr, value, got, want)
			}
		}
	})
}
