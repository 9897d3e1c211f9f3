package api

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// BenchmarkPullOntoThreeNodes measures, in the same run, the time to get
// one image (a 32 MiB layer over busybox, in the test bed's registry)
// onto the bed's three engines: `docker pull` through the manager, which
// pulls on every node at once, against `docker -H ENGINE pull` on each
// engine directly, the three at once and one after the other. The modes
// alternate within each iteration, so a loaded machine weighs on all
// three alike; the image is removed from every engine before each pull.
// Figures: docs/performance.md.
//
//	set -a; . /tmp/swarmdeck-bed-S.env; set +a
//	go test ./api -run '^$' -bench BenchmarkPullOntoThreeNodes -benchtime 5x
func BenchmarkPullOntoThreeNodes(b *testing.B) {
	rc := startOnTestbed(b)
	reg := requireRegistry(b)
	blob := make([]byte, 32<<20)
	rand.Read(blob)
	dir := b.TempDir()
	os.WriteFile(filepath.Join(dir, "blob"), blob, 0o644)
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM busybox:latest\nCOPY blob /blob\n"), 0o644)
	ref := fmt.Sprintf("%s/sdbench-%s:v1", reg, hex.EncodeToString(blob[:4]))
	rc.engine(b, 0, "build", "-q", "-t", ref, dir)
	rc.engine(b, 0, "push", ref)
	b.Cleanup(func() { rc.removeImage(ref) })
	cli := clis[0]
	removeAll := func() {
		for i := range rc.addrs {
			exec.Command(cli, "-H", "tcp://"+rc.addrs[i], "rmi", ref).Run()
			if rc.onEngine(i, ref) {
				b.Fatalf("node-%d still has %s", i+1, ref)
			}
		}
	}
	pullOn := func(host string) {
		if out, err := exec.Command(cli, "-H", host, "pull", "-q", ref).CombinedOutput(); err != nil {
			b.Fatalf("docker -H %s pull: %v\n%s", host, err, out)
		}
	}
	var manager, parallel, sequential time.Duration
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		removeAll()
		b.StartTimer()
		began := time.Now()
		pullOn(rc.host)
		manager += time.Since(began)
		b.StopTimer()
		for i := range rc.addrs {
			if !rc.onEngine(i, ref) {
				b.Fatalf("node-%d lacks %s after the pull through the manager", i+1, ref)
			}
		}

		removeAll()
		began = time.Now()
		var wg sync.WaitGroup
		for _, a := range rc.addrs {
			wg.Add(1)
			go func() { defer wg.Done(); pullOn("tcp://" + a) }()
		}
		wg.Wait()
		parallel += time.Since(began)

		removeAll()
		began = time.Now()
		for _, a := range rc.addrs {
			pullOn("tcp://" + a)
		}
		sequential += time.Since(began)
		b.StartTimer()
	}
	n := float64(b.N)
	b.ReportMetric(float64(manager.Milliseconds())/n, "manager-ms/op")
	b.ReportMetric(float64(parallel.Milliseconds())/n, "direct-parallel-ms/op")
	b.ReportMetric(float64(sequential.Milliseconds())/n, "direct-sequential-ms/op")
	b.ReportMetric(float64(manager)/float64(parallel), "manager/direct-parallel")
}
