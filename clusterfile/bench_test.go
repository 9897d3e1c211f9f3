package clusterfile

import (
	"fmt"
	"strings"
	"testing"
)

// genFile is a cluster file of n nodes as scripts/c1m.sh makes them, with
// perNode containers each.
func genFile(n, perNode int) []byte {
	var b strings.Builder
	b.WriteString("strategy: spread\nnodes:\n")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "  - name: node-%d\n    addr: 10.%d.%d.%d:2375\n    cpus: 16\n    memory: 64GiB\n    labels: {zone: eu, disk: ssd}\n    images: [nginx:1.25]\n",
			i, i>>16, (i>>8)&255, i&255)
		if perNode > 0 {
			b.WriteString("    containers:\n")
		}
		for j := 1; j <= perNode; j++ {
			fmt.Fprintf(&b, "    - {name: c%d-%d, image: nginx, cpus: 0.1, memory: 64m}\n", i, j)
		}
	}
	return []byte(b.String())
}

// BenchmarkParse reads a generated file of 1,000 nodes, without
// containers and with 10 each (the file's bytes are in memory).
func BenchmarkParse(b *testing.B) {
	for _, perNode := range []int{0, 10} {
		data := genFile(1000, perNode)
		b.Run(fmt.Sprintf("1000nodes/%dcontainers", perNode), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := Parse("bench.yaml", data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
