package model

import (
	"strconv"
	"strings"

	units "github.com/docker/go-units"
)

// MilliCPU is a number of CPUs in thousandths: 1500 is one and a half CPUs.
// Swarm counted whole CPUs; swarmdeck also takes `--cpus 0.5`.
type MilliCPU int64

// CPUs makes n whole CPUs.
func CPUs(n int) MilliCPU { return MilliCPU(n) * 1000 }

// String prints whole CPUs as integers and fractions with up to two
// decimals: "2", "1.5", "0.25".
func (m MilliCPU) String() string {
	if m%1000 == 0 {
		return strconv.FormatInt(int64(m/1000), 10)
	}
	s := strconv.FormatFloat(float64(m)/1000, 'f', 2, 64)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// binaryUnits are go-units' binary abbreviations.
var binaryUnits = []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"}

// FormatBytes prints a size as Swarm's `docker info` does: "0 B", "20 MiB",
// "1.05 GiB" (go-units' BytesSize as it was then, with a space before the
// unit; today's BytesSize drops the space).
func FormatBytes(n int64) string { return units.CustomSize("%.4g %s", float64(n), 1024, binaryUnits) }

// Overcommit is Swarm's swarm.overcommit: a fraction of extra capacity,
// kept as a truncated whole percent (0.05 → 5, 0.29 → 28).
type Overcommit int64

// DefaultOvercommit is Swarm's 5%.
const DefaultOvercommit Overcommit = 5

// TotalCPUs is the node's CPUs plus overcommit, on whole CPUs with Swarm's
// integer truncation (an 8-CPU node stays 8; 20 become 21).
func (n *Node) TotalCPUs(o Overcommit) MilliCPU {
	c := int64(n.CPUs)
	return MilliCPU(c+c*int64(o)/100) * 1000
}

// TotalMemory is the node's memory plus overcommit.
func (n *Node) TotalMemory(o Overcommit) int64 {
	return n.Memory + n.Memory*int64(o)/100
}

// Reserved sums the CPUs and memory reserved by every container of the
// node, whatever its state: stopping a container does not free them.
func (n *Node) Reserved() (cpus MilliCPU, memory int64) {
	for _, c := range n.Containers {
		cpus += c.CPUs
		memory += c.Memory
	}
	return cpus, memory
}

// Counts is the number of containers by state.
type Counts struct {
	Total, Running, Paused, Stopped int
}

// CountContainers counts containers as `docker info` does: paused wins over
// running, everything else is stopped.
func CountContainers(cs []*Container) Counts {
	var k Counts
	for _, c := range cs {
		k.Total++
		switch c.State {
		case Running:
			k.Running++
		case Paused:
			k.Paused++
		default:
			k.Stopped++
		}
	}
	return k
}

// ReservedCPUsText is `docker info`'s "Reserved CPUs: 1 / 8".
func (n *Node) ReservedCPUsText(o Overcommit) string {
	used, _ := n.Reserved()
	return used.String() + " / " + n.TotalCPUs(o).String()
}

// ReservedMemoryText is `docker info`'s "Reserved Memory: 1.05 GiB / 2.1 GiB".
func (n *Node) ReservedMemoryText(o Overcommit) string {
	_, used := n.Reserved()
	return FormatBytes(used) + " / " + FormatBytes(n.TotalMemory(o))
}

// SharesForCPUs is what Swarm sends an engine with nodeCPUs CPUs for a
// reservation of cpus: real CPU shares, ceil(cpus × 1024 / nodeCPUs).
func SharesForCPUs(cpus MilliCPU, nodeCPUs int) int64 {
	if cpus <= 0 || nodeCPUs <= 0 {
		return 0
	}
	num := int64(cpus) * 1024
	den := int64(nodeCPUs) * 1000
	return (num + den - 1) / den
}

// CPUsForShares reads real CPU shares back as Swarm did: shares × nodeCPUs /
// 1024, truncated to whole CPUs. So 256 shares on a 4-CPU node are 1 CPU,
// 1024 shares are all 4, and 512 shares on a 1-CPU node are 0.
func CPUsForShares(shares int64, nodeCPUs int) MilliCPU {
	if shares <= 0 || nodeCPUs <= 0 {
		return 0
	}
	return CPUs(int(shares * int64(nodeCPUs) / 1024))
}
