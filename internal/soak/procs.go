package soak

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// freePort asks the kernel for a free loopback port.
func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// proc is a swarmdeck process the soak runs (a manager or a join agent),
// kept running until the soak kills or stops it. One that exits on its
// own is recorded and started again.
type proc struct {
	name string  // the manager's address, or "join ENGINE"
	api  *docker // the manager's Docker API
	args []string
	bin  string
	log  string
	h    *History
	// manager: record up/exited/crashed and wait for /_ping after a start
	manager bool

	startMu sync.Mutex // one start at a time
	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{}
	wanted  bool // the soak wants it running
	upSince time.Time
}

// start launches the process and, for a manager, waits until it answers
// (retrying a start that exits at once, as a manager does while Consul is
// away). It gives up when ctx ends.
func (p *proc) start(ctx context.Context) {
	p.startMu.Lock()
	defer p.startMu.Unlock()
	p.mu.Lock()
	p.wanted = true
	p.mu.Unlock()
	for ctx.Err() == nil {
		if p.alive() {
			return
		}
		if err := p.launch(); err != nil {
			p.h.Add(Record{Kind: KindNote, Manager: p.name, Message: "start failed", Err: err.Error()})
			sleep(ctx, time.Second)
			continue
		}
		if !p.manager || p.waitUp(ctx) {
			return
		}
		if !sleep(ctx, time.Second) {
			return
		}
	}
}

func (p *proc) launch() error {
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(p.bin, p.args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		f.Close()
		return err
	}
	done := make(chan struct{})
	p.mu.Lock()
	p.cmd, p.done, p.upSince = cmd, done, time.Time{}
	p.mu.Unlock()
	if p.manager {
		p.h.Add(Record{Kind: KindManager, Manager: p.name, Action: "started", Message: fmt.Sprintf("pid %d", cmd.Process.Pid)})
	}
	go func() {
		err := cmd.Wait()
		f.Close()
		p.mu.Lock()
		wanted, up := p.wanted, !p.upSince.IsZero()
		p.mu.Unlock()
		close(done)
		if !p.manager && !wanted {
			return
		}
		action := "exited"
		msg := fmt.Sprint(err)
		if wanted && up {
			action = "crashed"
			msg += ": " + tail(p.log, 5)
		}
		p.h.Add(Record{Kind: KindManager, Manager: p.name, Action: action, Message: msg})
	}()
	return nil
}

// waitUp waits for the manager's /_ping; false if it exited first.
func (p *proc) waitUp(ctx context.Context) bool {
	d := p.api
	p.mu.Lock()
	done := p.done
	p.mu.Unlock()
	for {
		select {
		case <-done:
			return false
		case <-ctx.Done():
			return false
		case <-time.After(100 * time.Millisecond):
		}
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		err := d.ping(pctx)
		cancel()
		if err == nil {
			p.mu.Lock()
			p.upSince = time.Now()
			p.mu.Unlock()
			p.h.Add(Record{Kind: KindManager, Manager: p.name, Action: "up"})
			return true
		}
	}
}

// fds is how many files the process has open; -1 if unknown.
func (p *proc) fds() int {
	p.mu.Lock()
	cmd := p.cmd
	p.mu.Unlock()
	if cmd == nil {
		return -1
	}
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", cmd.Process.Pid))
	if err != nil {
		return -1
	}
	return len(ents)
}

// alive reports whether the last process started has not exited.
func (p *proc) alive() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// up reports whether the process answered and has not exited since.
func (p *proc) up() bool {
	p.mu.Lock()
	answered := !p.upSince.IsZero()
	p.mu.Unlock()
	return answered && p.alive()
}

// kill sends sig (SIGKILL for a fault, SIGTERM to stop) and waits for the
// exit, at most 10 s, then kills.
func (p *proc) kill(sig syscall.Signal) {
	p.mu.Lock()
	p.wanted = false
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-done
	}
}

// supervise starts again a process that exited while wanted, until ctx
// ends.
func (p *proc) supervise(ctx context.Context) {
	for {
		p.mu.Lock()
		done, wanted := p.done, p.wanted
		p.mu.Unlock()
		if done == nil || !wanted {
			if !sleep(ctx, 200*time.Millisecond) {
				return
			}
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-done:
		}
		p.mu.Lock()
		wanted = p.wanted
		p.mu.Unlock()
		if wanted && ctx.Err() == nil {
			sleep(ctx, time.Second)
			p.start(ctx)
		}
	}
}

// tail is the last n lines of a file, on one line.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// sleep waits d or until ctx ends; false if ctx ended.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// script runs one of the project's scripts (testbed.sh, consul.sh) with
// env added, and returns its output on failure.
func script(ctx context.Context, dir string, env []string, args ...string) error {
	cmd := exec.CommandContext(ctx, filepath.Join(dir, args[0]), args[1:]...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
