// Command hostile is the bounded load test of the endpoint under hostile
// clients (scripts/hostile-load.sh runs it): it holds many idle keep-alive
// connections and many /events followers that never read, and meanwhile
// measures /_ping and container creates. Loopback only: it refuses any
// other address.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:3390", "the manager's API (loopback only)")
	idle := flag.Int("idle", 20000, "idle keep-alive connections to hold")
	followers := flag.Int("followers", 5000, "/events followers that never read")
	creates := flag.Int("creates", 200, "container creates to time while the load is held")
	image := flag.String("image", "busybox", "image of the timed creates")
	limit := flag.Duration("limit", 3*time.Minute, "the whole run stops after this")
	holdFor := flag.Duration("hold", 0, "keep holding the connections this long after the measures (for docker run from outside)")
	flag.Parse()
	host, _, err := net.SplitHostPort(*addr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		fmt.Fprintf(os.Stderr, "hostile: %s is not a loopback address\n", *addr)
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *limit)
	defer cancel()

	var held []net.Conn
	var mu sync.Mutex
	hold := func(c net.Conn) { mu.Lock(); held = append(held, c); mu.Unlock() }
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()

	start := time.Now()
	idleOK, idleFail := openMany(ctx, *idle, func() error {
		c, err := net.DialTimeout("tcp", *addr, 5*time.Second)
		if err != nil {
			return err
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(c, "GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			c.Close()
			return err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		c.SetDeadline(time.Time{})
		hold(c)     // a keep-alive connection that says nothing more…
		go func() { // …but, as any HTTP client, notices when the server closes it
			io.Copy(io.Discard, c)
			c.Close()
		}()
		return nil
	})
	fmt.Printf("idle keep-alive connections: %d opened (each answered one /_ping), %d failed, in %s\n", idleOK, idleFail, time.Since(start).Round(time.Millisecond))

	start = time.Now()
	var refused atomic.Int64
	folOK, folFail := openMany(ctx, *followers, func() error {
		c, err := net.DialTimeout("tcp", *addr, 5*time.Second)
		if err != nil {
			return err
		}
		c.(*net.TCPConn).SetReadBuffer(4096)
		fmt.Fprintf(c, "GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
		// Read only the status line, to tell a follower from a refusal.
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		r := bufio.NewReader(c)
		line, err := r.ReadString('\n')
		c.SetReadDeadline(time.Time{})
		if err != nil {
			c.Close()
			return err
		}
		hold(c)
		if !strings.Contains(line, " 200 ") {
			refused.Add(1)
			go func() { // refused: an idle keep-alive like the others
				io.Copy(io.Discard, r)
				c.Close()
			}()
		}
		return nil // a follower never reads again
	})
	fmt.Printf("/events followers that never read: %d connected (%d of them refused with 503), %d failed, in %s\n",
		folOK, refused.Load(), folFail, time.Since(start).Round(time.Millisecond))

	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	var pings []time.Duration
	pingFail := 0
	for range 50 {
		t0 := time.Now()
		resp, err := client.Get("http://" + *addr + "/_ping")
		if err != nil || resp.StatusCode != 200 {
			pingFail++
		} else {
			pings = append(pings, time.Since(t0))
		}
		if resp != nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	fmt.Printf("/_ping under the load: %d answered, %d failed; p50 %s, p99 %s\n", len(pings), pingFail, pct(pings, 50), pct(pings, 99))

	var lat []time.Duration
	createFail := 0
	for i := range *creates {
		if ctx.Err() != nil {
			break
		}
		t0 := time.Now()
		resp, err := client.Post(fmt.Sprintf("http://%s/containers/create?name=hostile-%d", *addr, i), "application/json",
			strings.NewReader(`{"Image":"`+*image+`","Cmd":["true"]}`))
		if err != nil || resp.StatusCode != 201 {
			createFail++
			if resp != nil {
				b, _ := io.ReadAll(resp.Body)
				fmt.Fprintf(os.Stderr, "create %d: %d %s\n", i, resp.StatusCode, b)
			} else {
				fmt.Fprintf(os.Stderr, "create %d: %v\n", i, err)
			}
		} else {
			lat = append(lat, time.Since(t0))
		}
		if resp != nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		req, _ := http.NewRequest("DELETE", fmt.Sprintf("http://%s/containers/hostile-%d?force=1", *addr, i), nil)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
		}
	}
	fmt.Printf("creates under the load: %d answered, %d failed; p50 %s, p99 %s\n", len(lat), createFail, pct(lat, 50), pct(lat, 99))
	if *holdFor > 0 {
		fmt.Printf("holding the connections for %s\n", *holdFor)
		select {
		case <-time.After(*holdFor):
		case <-ctx.Done():
		}
	}
	if pingFail > 0 || createFail > 0 {
		os.Exit(1)
	}
}

// openMany runs open n times, 256 at a time, and counts the outcomes.
func openMany(ctx context.Context, n int, open func() error) (ok, failed int) {
	var okN, failN atomic.Int64
	sem := make(chan struct{}, 256)
	var wg sync.WaitGroup
	for range n {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if open() == nil {
				okN.Add(1)
			} else {
				failN.Add(1)
			}
		}()
	}
	wg.Wait()
	return int(okN.Load()), int(failN.Load())
}

func pct(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[(len(s)-1)*p/100].Round(10 * time.Microsecond)
}
