package sched

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"

	"swarmdeck/model"
)

// healthFactor is Swarm's weight of the health indicator: spread adds
// -10×health (lower wins), binpack +10×health (higher wins).
func (s *Scheduler) healthFactor() int64 {
	if s.strategy == StrategyBinpack {
		return 10
	}
	return -10
}

// weigh is Swarm's weighNodes for one node, in integer arithmetic: the
// node is kept only when the request fits its totals (overcommit included)
// and neither CPU nor memory goes past 100%. why receives the resource
// that ran short and by how much.
func (s *Scheduler) weigh(ns *nodeState, r *Request, why *[]Reason) (Score, bool) {
	n := ns.n
	return s.weighValues(int64(n.CPUs), n.Memory, ns.usedCPU, ns.usedMem, s.HealthIndicator(n), len(ns.containers), r, why)
}

// weighAt is weigh for node i, read from the snapshot's columns.
func (s *Scheduler) weighAt(c *cols, i int, r *Request, why *[]Reason) (Score, bool) {
	return s.weighValues(c.cpus[i], c.mem[i], c.usedCPU[i], c.usedMem[i], s.healthOf(c.health[i], c.failures[i]), int(c.count[i]), r, why)
}

// weighValues is weigh on a node's values: its CPUs and memory before
// overcommit, what its containers reserve, its health indicator and its
// container count.
func (s *Scheduler) weighValues(cpus, mem int64, usedCPU model.MilliCPU, usedMem, health int64, count int, r *Request, why *[]Reason) (Score, bool) {
	reqCPU, reqMem := r.Config.CPUs, r.Config.Memory
	totalCPU := model.MilliCPU(cpus+cpus*int64(s.overcommit)/100) * 1000 // model.Node.TotalCPUs
	totalMem := mem + mem*int64(s.overcommit)/100                        // model.Node.TotalMemory
	sc := Score{Health: health, Containers: count, CPU: 100, Memory: 100}
	cpuOK, memOK := true, true
	if reqCPU > 0 {
		if cpuOK = totalCPU >= reqCPU; cpuOK {
			sc.CPU = int64(usedCPU+reqCPU) * 100 / int64(totalCPU)
			cpuOK = sc.CPU <= 100
		}
		if !cpuOK && why != nil {
			reject(why, Reason{Filter: reasonCPUs, Class: Exhausted, Detail: fmt.Sprintf(
				"needs %s CPUs, %s of %s free", reqCPU, max(totalCPU-usedCPU, 0), totalCPU)})
		}
	}
	if reqMem > 0 {
		if memOK = totalMem >= reqMem; memOK {
			sc.Memory = (usedMem + reqMem) * 100 / totalMem
			memOK = sc.Memory <= 100
		}
		if !memOK && why != nil {
			reject(why, Reason{Filter: reasonMemory, Class: Exhausted, Detail: fmt.Sprintf("needs %s, %s of %s free",
				model.FormatBytes(reqMem), model.FormatBytes(max(totalMem-usedMem, 0)), model.FormatBytes(totalMem))})
		}
	}
	sc.Weight = sc.CPU + sc.Memory + s.healthFactor()*sc.Health
	return sc, cpuOK && memOK
}

// better reports whether a ranks before b: spread takes the lower weight,
// then fewer containers; binpack the higher weight, then more containers;
// what is still tied goes to the name first in natural order.
func (s *Scheduler) better(a, b *candidate) bool {
	if a.score.Weight != b.score.Weight {
		if s.strategy == StrategyBinpack {
			return a.score.Weight > b.score.Weight
		}
		return a.score.Weight < b.score.Weight
	}
	if a.score.Containers != b.score.Containers {
		if s.strategy == StrategyBinpack {
			return a.score.Containers > b.score.Containers
		}
		return a.score.Containers < b.score.Containers
	}
	return a.rank < b.rank
}

// draw is random's choice: the first draw of order's shuffle.
func (s *Scheduler) draw(cands []candidate, rng *rand.Rand) *candidate {
	s.byName(cands)
	return &cands[rng.IntN(len(cands))]
}

// order sorts cands best first. random is a Fisher–Yates shuffle whose
// first draw is the one best makes, so Ranked[0] is always the choice.
func (s *Scheduler) order(cands []candidate, rng *rand.Rand) {
	if s.strategy == StrategyRandom {
		s.byName(cands)
		for i := 0; i < len(cands)-1; i++ {
			j := i + rng.IntN(len(cands)-i)
			cands[i], cands[j] = cands[j], cands[i]
		}
		return
	}
	// The strategy's total order (better) on small keys rather than on the
	// candidates: weight, then container count, both negated for binpack
	// (higher first), then the name's rank.
	sign := int64(1)
	if s.strategy == StrategyBinpack {
		sign = -1
	}
	keys := make([]orderKey, len(cands))
	for i, c := range cands {
		keys[i] = orderKey{w: sign * c.score.Weight, n: sign * int64(c.score.Containers), rank: c.rank, at: int32(i)}
	}
	slices.SortFunc(keys, func(a, b orderKey) int {
		return cmp.Or(cmp.Compare(a.w, b.w), cmp.Compare(a.n, b.n), cmp.Compare(a.rank, b.rank))
	})
	sorted := make([]candidate, len(cands))
	for i, k := range keys {
		sorted[i] = cands[k.at]
	}
	copy(cands, sorted)
}

// orderKey is a candidate's place in the strategy's order; at is its
// index in the candidates.
type orderKey struct {
	w, n     int64
	rank, at int32
}

// byName puts cands in natural order of name, so random draws from the
// same list whatever order the snapshot holds its nodes in.
func (s *Scheduler) byName(cands []candidate) {
	slices.SortFunc(cands, func(a, b candidate) int { return int(a.rank - b.rank) })
}
