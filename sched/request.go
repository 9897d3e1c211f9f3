package sched

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"swarmdeck/model"
)

// Reschedule policies (Swarm's; "off" is the default).
const (
	RescheduleOff           = "off"
	RescheduleOnNodeFailure = "on-node-failure"
)

// PolicyError is a bad reschedule policy, worded as Swarm words it.
type PolicyError struct{ Msg string }

func (e *PolicyError) Error() string { return e.Msg }

// IsInvalid reports whether err is a malformed request (an expression or a
// reschedule policy) rather than a refusal to place: the API answers 400,
// the command line exits 2.
func IsInvalid(err error) bool {
	var ee *ExprError
	var pe *PolicyError
	return errors.As(err, &ee) || errors.As(err, &pe)
}

// Request is a container to place: its config with the expressions taken
// out of env and merged into the labels, and those expressions compiled.
type Request struct {
	Config      model.Config
	Constraints []*Expr
	Affinities  []*Expr
	Whitelists  []*Expr
	Reschedule  string // "" (off), "off" or "on-node-failure"

	// Seed drives the random strategy: the same snapshot, request and seed
	// give the same placement.
	Seed uint64

	deps      []dependency
	hostMode  bool
	bindings  []model.PortBinding // with a host port, bridge mode
	hasSoft   bool
	hardNode  bool
	exprCount int
}

type dependency struct {
	desc string // as Swarm lists it: --link=db
	ref  string // the container it names
}

// exprSource pairs an env prefix with the label that carries the same list.
type exprSource struct {
	prefix string
	label  string
}

var exprSources = [...]exprSource{
	{"constraint", model.LabelConstraints},
	{"affinity", model.LabelAffinities},
	{"whitelist", model.LabelWhitelists},
	{"reschedule", model.LabelReschedulePolicies},
}

// ExtractExpressions does what Swarm's BuildContainerConfig did: for each
// of constraint, affinity, whitelist and reschedule it decodes the label's
// JSON array, appends the env entries `<prefix>:<expression>` in env order,
// writes the merged list back into the label when it is not empty, and
// removes those env entries. A label that is not a JSON array of strings
// yields nothing (and is overwritten if env entries of its kind exist).
// cfg is not modified; the returned config has fresh Env and Labels.
func ExtractExpressions(cfg model.Config) (model.Config, [4][]string) {
	var lists [4][]string
	labels := make(map[string]string, len(cfg.Labels)) // grown only if expressions come from the environment
	for k, v := range cfg.Labels {
		labels[k] = v
	}
	for i, src := range exprSources {
		if v, ok := labels[src.label]; ok {
			var l []string
			if json.Unmarshal([]byte(v), &l) == nil {
				lists[i] = l
			}
		}
	}
	env := make([]string, 0, len(cfg.Env))
	for _, e := range cfg.Env {
		taken := false
		if p, expr, ok := strings.Cut(e, ":"); ok {
			for i, src := range exprSources {
				if p == src.prefix {
					lists[i] = append(lists[i], expr)
					taken = true
					break
				}
			}
		}
		if !taken {
			env = append(env, e)
		}
	}
	for i, src := range exprSources {
		if len(lists[i]) > 0 {
			b, _ := json.Marshal(lists[i])
			labels[src.label] = string(b)
		}
	}
	out := cfg
	out.Env = env
	out.Labels = labels
	return out, lists
}

// ValidatePolicies checks reschedule policies as Swarm did on create.
func ValidatePolicies(policies []string) (string, error) {
	if len(policies) > 1 {
		return "", &PolicyError{Msg: "too many reschedule policies"}
	}
	if len(policies) == 0 {
		return "", nil
	}
	switch p := policies[0]; p {
	case RescheduleOff, RescheduleOnNodeFailure:
		return p, nil
	default:
		return "", &PolicyError{Msg: "invalid reschedule policy: " + p}
	}
}

// NewRequest extracts and compiles every expression and policy of cfg up
// front. A malformed one is an *ExprError or *PolicyError naming it, and
// nothing is placed.
func NewRequest(cfg model.Config) (*Request, error) {
	cfg, lists := ExtractExpressions(cfg)
	r := &Request{Config: cfg}
	kinds := [3]Kind{KindConstraint, KindAffinity, KindWhitelist}
	dsts := [3]*[]*Expr{&r.Constraints, &r.Affinities, &r.Whitelists}
	for i, kind := range kinds {
		for _, s := range lists[i] {
			e, err := ParseExpr(kind, s)
			if err != nil {
				return nil, err
			}
			*dsts[i] = append(*dsts[i], e)
			r.hasSoft = r.hasSoft || e.Soft
			r.exprCount++
		}
	}
	for _, e := range r.Constraints {
		if e.Key == "node" && e.Op == OpEq && !e.Soft {
			r.hardNode = true
		}
	}
	p, err := ValidatePolicies(lists[3])
	if err != nil {
		return nil, err
	}
	r.Reschedule = p
	r.prepare()
	return r, nil
}

// WithAffinity is a copy of r with one more hard affinity, used for this
// placement only: the container's labels do not record it (Swarm's
// temporary image affinity on a create retry).
func (r *Request) WithAffinity(e *Expr) *Request {
	cp := *r
	cp.Affinities = append(slices.Clone(r.Affinities), e)
	return &cp
}

// HasHardNodeConstraint reports a constraint node==X that is not soft
// (Swarm's HaveNodeConstraint).
func (r *Request) HasHardNodeConstraint() bool { return r.hardNode }

func (r *Request) prepare() {
	c := &r.Config
	for _, v := range c.VolumesFrom {
		ref, _, _ := strings.Cut(v, ":")
		r.deps = append(r.deps, dependency{desc: "--volumes-from=" + v, ref: ref})
	}
	for _, l := range c.Links {
		ref, _, _ := strings.Cut(l, ":")
		r.deps = append(r.deps, dependency{desc: "--link=" + l, ref: ref})
	}
	if ref, ok := strings.CutPrefix(c.NetworkMode, "container:"); ok {
		r.deps = append(r.deps, dependency{desc: "--net=" + c.NetworkMode, ref: ref})
	}
	r.hostMode = c.NetworkMode == "host"
	if !r.hostMode {
		r.bindings = c.Ports
	}
}

// portConditions is Swarm's description of the port filter's conditions.
func (r *Request) portConditions() []string {
	var out []string
	if r.hostMode {
		for _, p := range r.Config.Expose {
			out = append(out, fmt.Sprintf("port %s (Host mode)", p))
		}
		return out
	}
	for _, b := range r.bindings {
		out = append(out, fmt.Sprintf("port %s (Bridge mode)", b.HostPort))
	}
	return out
}
