package sched

import (
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"strings"
	"unicode/utf8"
)

// Op is an expression's operator.
type Op int

// The two operators of Swarm's grammar.
const (
	OpEq Op = iota // ==
	OpNe           // !=
)

func (o Op) String() string {
	if o == OpNe {
		return "!="
	}
	return "=="
}

// Kind says where an expression came from; it only words messages.
type Kind string

// Expression kinds, as they are prefixed in env (`constraint:…`).
const (
	KindConstraint Kind = "constraint"
	KindAffinity   Kind = "affinity"
	KindWhitelist  Kind = "whitelist"
)

// ExprError is a malformed expression: Expr is the whole expression as the
// user wrote it, Msg the rule it breaks, in Swarm's words where Swarm had
// them. The API maps it to 400 and the command line to exit 2.
type ExprError struct {
	Kind Kind
	Expr string
	Msg  string
}

func (e *ExprError) Error() string {
	return fmt.Sprintf("invalid %s \"%s\": %s", e.Kind, e.Expr, e.Msg)
}

// Expr is one parsed and compiled expression, such as zone==~eu*.
type Expr struct {
	Raw   string // as written
	Key   string
	Op    Op
	Value string // the value with the soft marker removed
	Soft  bool
	m     matcher
}

// String is the expression as Swarm lists it in its messages: key, operator
// and value, without the soft marker.
func (e *Expr) String() string { return e.Key + e.Op.String() + e.Value }

var (
	keyRule   = regexp.MustCompile(`(?i)^[a-z_][a-z0-9\-_.]+$`)
	valueRule = regexp.MustCompile(`(?i)^[=!/]?(~)?[a-z0-9:\-_\s.*/()?+\[\]\\^$|]+$`)
)

// ParseExpr parses and compiles one expression. It follows Swarm's grammar
// (operators tried in the order ==, !=, each split at its first
// occurrence; Swarm's key and value rules) and refuses what Swarm let
// through only to fail later: a pattern that does not compile, and the
// value "/" alone.
func ParseExpr(kind Kind, s string) (*Expr, error) {
	bad := func(msg string) error { return &ExprError{Kind: kind, Expr: s, Msg: msg} }
	var (
		key, val string
		op       Op
	)
	if i := strings.Index(s, "=="); i >= 0 {
		key, val, op = s[:i], s[i+2:], OpEq
	} else if i := strings.Index(s, "!="); i >= 0 {
		key, val, op = s[:i], s[i+2:], OpNe
	} else {
		return nil, bad("One of operator ==, != is expected")
	}
	if !keyRule.MatchString(key) {
		return nil, bad(fmt.Sprintf("Key '%s' is invalid", key))
	}
	if !valueRule.MatchString(val) {
		return nil, bad(fmt.Sprintf("Value '%s' is invalid", val))
	}
	e := &Expr{Raw: s, Key: key, Op: op, Value: val}
	if strings.HasPrefix(val, "~") {
		e.Soft = true
		e.Value = strings.TrimLeft(val, "~")
	}
	m, err := compile(e.Value)
	if err != nil {
		return nil, bad(err.Error())
	}
	e.m = m
	return e, nil
}

// Matches applies the operator to the candidate values of one node: == is
// true when any value matches, != when none does. No values: == is false,
// != true.
func (e *Expr) Matches(values ...string) bool {
	for _, v := range values {
		if e.m.match(v) {
			return e.Op == OpEq
		}
	}
	return e.Op == OpNe
}

// match reports whether the pattern (not the operator) matches one value.
func (e *Expr) match(v string) bool { return e.m.match(v) }

// literal reports whether the pattern is a plain string that only matches
// itself, so an index can answer it.
func (e *Expr) literal() (string, bool) {
	if e.m.kind == matchExact {
		return e.m.pat, true
	}
	return "", false
}

type matchKind int

const (
	matchExact matchKind = iota // the value itself
	matchGlob                   // '*' any run, '.' any one character
	matchRegexp
)

// matcher is a compiled pattern. Swarm's glob turns '*' into '.*' and
// leaves every other regex character alone; swarmdeck anchors the whole
// pattern (§12.1). Patterns made only of literals, '.' and '*' are matched
// without the regexp engine; the rest compile to a regexp once.
type matcher struct {
	kind matchKind
	pat  string
	re   *regexp.Regexp
}

// regexMeta are the characters the value rule allows that mean something
// to a regexp other than '.' and '*'.
const regexMeta = `?+[]()\^$|`

func compile(v string) (matcher, error) {
	if len(v) >= 1 && v[0] == '/' && v[len(v)-1] == '/' {
		if len(v) == 1 {
			return matcher{}, fmt.Errorf("Value '/' is invalid: a regular expression needs /…/ around it")
		}
		re, err := regexp.Compile(v[1 : len(v)-1])
		if err != nil {
			return matcher{}, fmt.Errorf("pattern '%s' does not compile: %v", v, unwrapRegexpErr(err))
		}
		return matcher{kind: matchRegexp, pat: v, re: re}, nil
	}
	if strings.ContainsAny(v, regexMeta) {
		re, err := regexp.Compile(`^(?:` + strings.ReplaceAll(v, "*", ".*") + `)$`)
		if err != nil {
			return matcher{}, fmt.Errorf("pattern '%s' does not compile: %v", v, unwrapRegexpErr(err))
		}
		return matcher{kind: matchRegexp, pat: v, re: re}, nil
	}
	if !strings.ContainsAny(v, ".*") {
		return matcher{kind: matchExact, pat: v}, nil
	}
	return matcher{kind: matchGlob, pat: v}, nil
}

func unwrapRegexpErr(err error) string {
	var se *syntax.Error
	if errors.As(err, &se) {
		return string(se.Code)
	}
	return err.Error()
}

func (m *matcher) match(s string) bool {
	switch m.kind {
	case matchExact:
		return s == m.pat
	case matchGlob:
		return globMatch(m.pat, s)
	default:
		return m.re.MatchString(s)
	}
}

// globMatch matches s against a pattern of literal bytes, '.' (any one
// character but newline) and '*' (any run of characters without newline),
// anchored at both ends, as the regexp ^pattern-with-*-as-.*$ would. It
// backtracks only to the last '*', so it runs in O(len(p)·len(s)) and
// allocates nothing.
func globMatch(p, s string) bool {
	pi, si := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		if pi < len(p) {
			switch c := p[pi]; c {
			case '*':
				star, mark = pi, si
				pi++
				continue
			case '.':
				r, n := utf8.DecodeRuneInString(s[si:])
				if r != '\n' {
					pi++
					si += n
					continue
				}
			default:
				if s[si] == c {
					pi++
					si++
					continue
				}
			}
		}
		if star < 0 || s[mark] == '\n' {
			return false
		}
		_, n := utf8.DecodeRuneInString(s[mark:])
		mark += n
		pi, si = star+1, mark
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}
