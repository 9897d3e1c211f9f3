package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"swarmdeck/api"
	"swarmdeck/backend"
	"swarmdeck/model"
)

// managerClient calls a manager's own endpoints under api.Prefix.
type managerClient struct {
	http *http.Client
	base string
}

// dialManager reaches the manager at host (tcp://host:port, host:port or
// unix:///path), with the engines' TLS settings (DOCKER_TLS_VERIFY,
// DOCKER_CERT_PATH) when set.
func dialManager(host string) (*managerClient, error) {
	if host == "" {
		host = os.Getenv("SWARM_HOST")
	}
	if host == "" {
		return nil, errors.New("--host MANAGER is required (or $SWARM_HOST): the manager's API address, tcp://host:port")
	}
	if _, _, err := listenAddr(host); err != nil {
		return nil, err
	}
	eng, err := backend.NewDockerEngine(host, engineTLS())
	if err != nil {
		return nil, err
	}
	return &managerClient{http: eng.HTTPClient(), base: eng.BaseURL()}, nil
}

// call sends a JSON request and decodes the JSON answer into out; an
// error answer becomes an error with the manager's message.
func (m *managerClient) call(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, m.base+api.Prefix+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := m.http.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach the manager: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("reading the manager's answer: %w", err)
	}
	if resp.StatusCode >= 300 {
		var e struct{ Message string }
		if json.Unmarshal(data, &e) != nil || e.Message == "" {
			e.Message = strings.TrimSpace(string(data))
		}
		return &managerError{Status: resp.StatusCode, Msg: e.Message}
	}
	return json.Unmarshal(data, out)
}

// managerFlags is the flag set of a command that talks to a manager,
// with its --host flag.
func managerFlags(name, usage string, stderr io.Writer) (*pflag.FlagSet, *string) {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetOutput(stderr)
	host := fs.StringP("host", "H", "", "the manager's API address: tcp://host:port or unix:///path ($SWARM_HOST)")
	fs.Usage = func() { fmt.Fprint(stderr, usage+fs.FlagUsages()) }
	return fs, host
}

// parseArgs parses a command line that takes nargs arguments; when it
// returns false the command ends with the code (0 after --help).
func parseArgs(fs *pflag.FlagSet, args []string, nargs int) (int, bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return exitOK, false
		}
		fmt.Fprintf(fs.Output(), "swarmdeck %s: %v (see 'swarmdeck %s --help')\n", fs.Name(), err, fs.Name())
		return exitUsage, false
	}
	if fs.NArg() != nargs {
		what := "too many arguments"
		if fs.NArg() < nargs {
			what = "too few arguments"
		}
		fmt.Fprintf(fs.Output(), "swarmdeck %s: %s: want %d, got %d %q\n", fs.Name(), what, nargs, fs.NArg(), fs.Args())
		fs.Usage()
		return exitUsage, false
	}
	return 0, true
}

// managerError is a refusal from the manager.
type managerError struct {
	Status int
	Msg    string
}

func (e *managerError) Error() string { return e.Msg }

// exitFor maps a manager's refusal to an exit status: a bad request is a
// usage error, anything else a refusal.
func exitFor(err error) int {
	var me *managerError
	if errors.As(err, &me) && me.Status == http.StatusBadRequest {
		return exitUsage
	}
	return exitRefused
}

const nodeUsage = `Usage: swarmdeck node drain|pause|activate NAME --host MANAGER [--force] [--wait 5m]

  drain     no new containers on the node, and its containers with a
            reschedule policy (or --label com.swarmdeck.rebalance=true) move off
            it; the others are listed as blocking, and move only with --force.
            It waits (--wait) for the moves to end and lists what moved
            where and what failed and why: it exits 1 if any failed
  pause     no new containers on the node; what runs there stays
  activate  the node takes containers again

NAME is the node's name, address or engine ID.

Flags:
`

// nodeCmd is `swarmdeck node drain|pause|activate NAME --host MANAGER`.
func nodeCmd(args []string, stdout, stderr io.Writer) int {
	fs, host := managerFlags("node", nodeUsage, stderr)
	force := fs.Bool("force", false, "drain: move the containers that have no reschedule policy too")
	wait := fs.Duration("wait", 5*time.Minute, "drain: how long to wait for the moves to end (0: do not wait)")
	if code, ok := parseArgs(fs, args, 2); !ok {
		return code
	}
	verb, name := fs.Arg(0), fs.Arg(1)
	if *wait < 0 {
		fmt.Fprintf(stderr, "swarmdeck node: --wait must be 0 or more, got %s\n", *wait)
		return exitUsage
	}
	if strings.TrimSpace(name) == "" {
		fmt.Fprintln(stderr, "swarmdeck node: the node name is empty (give its name, address or engine ID)")
		return exitUsage
	}
	want := map[string]string{"drain": "drain", "pause": "pause", "activate": "active"}[verb]
	if want == "" {
		fmt.Fprintf(stderr, "swarmdeck node: unknown action %q (use drain, pause or activate)\n", verb)
		return exitUsage
	}
	if *force && want != "drain" {
		fmt.Fprintln(stderr, "swarmdeck node: --force applies to drain only")
		return exitUsage
	}
	mc, err := dialManager(*host)
	if err != nil {
		fmt.Fprintf(stderr, "swarmdeck node: %v\n", err)
		return exitUsage
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second+*wait)
	defer cancel()
	var res api.AvailabilityResponse
	err = mc.call(ctx, http.MethodPost, "/nodes/"+url.PathEscape(name)+"/availability",
		api.AvailabilityRequest{Availability: want, Force: *force, Wait: *wait > 0}, &res)
	if err != nil {
		fmt.Fprintf(stderr, "swarmdeck node %s %s: %v\n", verb, name, err)
		return exitFor(err)
	}
	av, _ := model.ParseAvailability(res.Availability)
	fmt.Fprintf(stdout, "%s (%s) is now %s (kept in %s)\n", res.Node, res.Addr, av.Doing(), res.StoredIn)
	code := exitOK
	if want == "drain" {
		if *wait > 0 {
			var moved, removed, failed []api.Outcome
			for _, o := range res.Outcomes {
				switch {
				case o.Error != "":
					failed = append(failed, o)
				case o.Removed:
					removed = append(removed, o)
				default:
					moved = append(moved, o)
				}
			}
			fmt.Fprintf(stdout, "moved off it: %d\n", len(moved))
			for _, o := range moved {
				fmt.Fprintf(stdout, "  %s → %s\n", o.Container, o.To)
			}
			if len(removed) > 0 {
				fmt.Fprintf(stdout, "removed before they moved: %d\n", len(removed))
				for _, o := range removed {
					fmt.Fprintf(stdout, "  %s\n", o.Container)
				}
			}
			if len(failed) > 0 {
				code = exitRefused
				fmt.Fprintf(stdout, "failed to move: %d (the manager tries again while the node is draining: 15 s later, then twice as late each time, up to 5 minutes)\n", len(failed))
				for _, o := range failed {
					fmt.Fprintf(stdout, "  %s: %s\n", o.Container, o.Error)
				}
			}
		} else {
			fmt.Fprintf(stdout, "moving off it: %d\n", len(res.Moving))
			for _, n := range res.Moving {
				fmt.Fprintf(stdout, "  %s\n", n)
			}
		}
		if len(res.Blocking) > 0 {
			forcible := 0
			for _, b := range res.Blocking {
				if b.Forcible {
					forcible++
				}
			}
			hint := ""
			switch {
			case forcible == len(res.Blocking):
				hint = " (drain again with --force to move them)"
			case forcible > 0:
				hint = fmt.Sprintf(" (drain again with --force to move the %d without a reschedule policy)", forcible)
			}
			fmt.Fprintf(stdout, "blocking the drain: %d%s\n", len(res.Blocking), hint)
			for _, b := range res.Blocking {
				fmt.Fprintf(stdout, "  %s: %s\n", b.Container, b.Reason)
			}
		}
		if len(res.Global) > 0 {
			fmt.Fprintf(stdout, "global copies removed from it (a drained node runs none): %d\n", len(res.Global))
			for _, g := range res.Global {
				fmt.Fprintf(stdout, "  %s\n", g)
			}
		}
		for _, w := range res.Warnings {
			fmt.Fprintf(stderr, "warning: %s\n", w)
		}
	}
	return code
}

const rebalanceUsage = `Usage: swarmdeck rebalance --host MANAGER [--dry-run] [--max-moves N]

Moves containers (those with a reschedule policy or the label
com.swarmdeck.rebalance=true) to where the strategy would place them
today: the new copy starts before the old one stops, at most 4 moves at
once, and nothing more starts after a move fails.

Flags:
`

// rebalanceCmd is `swarmdeck rebalance --host MANAGER [--dry-run]`.
func rebalanceCmd(args []string, stdout, stderr io.Writer) int {
	fs, host := managerFlags("rebalance", rebalanceUsage, stderr)
	dry := fs.Bool("dry-run", false, "show the plan, move nothing")
	maxMoves := fs.Int("max-moves", 0, "the most moves the plan holds (default 20)")
	if code, ok := parseArgs(fs, args, 0); !ok {
		return code
	}
	if fs.Changed("max-moves") && *maxMoves < 1 {
		fmt.Fprintln(stderr, "swarmdeck rebalance: --max-moves must be at least 1")
		return exitUsage
	}
	mc, err := dialManager(*host)
	if err != nil {
		fmt.Fprintf(stderr, "swarmdeck rebalance: %v\n", err)
		return exitUsage
	}
	q := url.Values{}
	if *dry {
		q.Set("dry-run", "1")
	}
	if *maxMoves > 0 {
		q.Set("max-moves", strconv.Itoa(*maxMoves))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var res api.RebalanceResponse
	if err := mc.call(ctx, http.MethodPost, "/rebalance?"+q.Encode(), nil, &res); err != nil {
		fmt.Fprintf(stderr, "swarmdeck rebalance: %v\n", err)
		return exitFor(err)
	}
	fmt.Fprint(stdout, rebalanceText(res))
	for _, m := range res.Moves {
		if m.Error != "" {
			return exitRefused
		}
	}
	return exitOK
}

// rebalanceText prints a plan and its run: per move a line with its
// outcome, its reason and the rules it touches; then the plan's cost once,
// what bounded it, and the summary.
func rebalanceText(res api.RebalanceResponse) string {
	var sb strings.Builder
	for _, m := range res.Moves {
		mark := "•"
		switch {
		case m.Done:
			mark = "✓"
		case m.Error != "":
			mark = "✗"
		case m.Skipped:
			mark = "-"
		}
		fmt.Fprintf(&sb, "%s %s: %s → %s\n    %s\n", mark, m.Container, m.From, m.To, m.Why)
		if len(m.Rules) > 0 {
			fmt.Fprintf(&sb, "    touches %s\n", strings.Join(m.Rules, ", "))
		} else {
			sb.WriteString("    touches no constraint or affinity\n")
		}
		if m.Error != "" {
			fmt.Fprintf(&sb, "    failed: %s\n", m.Error)
		}
	}
	if len(res.Moves) > 0 {
		fmt.Fprintf(&sb, "plan: %s\n", res.Cost)
	}
	switch {
	case res.Bound != "":
		sb.WriteString(res.Bound + "\n")
	case res.Truncated: // a manager from before Bound
		sb.WriteString("bounded: a further move may gain\n")
	}
	fmt.Fprintf(&sb, "%s\n", res.Summary)
	return sb.String()
}
