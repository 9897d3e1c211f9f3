package model

import (
	"fmt"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"
)

// Limits on what one request may ask for. They keep every sum the manager
// makes (reservations, overcommit, shares) far from int64 overflow.
const (
	// MaxCPUs is the most CPUs a node may have, and a container reserve.
	MaxCPUs = 1 << 20
	// MaxShares is the kernel's largest cpu.shares; with Swarm's meaning of
	// -c (a number of CPUs) it is also the most -c may ask for.
	MaxShares = 262144
	// MaxBytes is the most memory a node may have, or a container reserve
	// or limit: 1 EiB.
	MaxBytes = 1 << 60
	// MinMemory is Docker's smallest memory limit (linuxMinMemory).
	MinMemory = 6 << 20
	// MaxOvercommit is the largest swarm.overcommit: 100 times the node.
	MaxOvercommit = 100.0
)

// InvalidError is input refused where it enters: a resource value, a
// name, a size. Its text is Docker's where Docker has one. It answers
// errdefs.IsInvalidParameter, so the API maps it to 400.
type InvalidError struct{ Msg string }

func (e *InvalidError) Error() string { return e.Msg }

// InvalidParameter marks the error as errdefs' invalid-parameter kind.
func (e *InvalidError) InvalidParameter() {}

func invalidf(format string, a ...any) error { return &InvalidError{Msg: fmt.Sprintf(format, a...)} }

// Resources are the resource fields of a create or an update, as Docker's
// HostConfig carries them. CPUShares has Swarm's meaning: whole CPUs.
type Resources struct {
	CPUShares         int64
	NanoCPUs          int64
	Memory            int64
	MemoryReservation int64
	MemorySwap        int64
}

// Check refuses what Docker's daemon refuses, in its words (daemon
// verifyPlatformContainerResources and runconfig), and what would
// overflow the manager's sums. maxCPUs is the CPU count of the largest
// node (Docker checks --cpus against the engine's); 0 means MaxCPUs.
// update relaxes the swap rule as Docker's update does.
func (r Resources) Check(maxCPUs int, update bool) error {
	if maxCPUs <= 0 || maxCPUs > MaxCPUs {
		maxCPUs = MaxCPUs
	}
	if r.CPUShares < 0 {
		return invalidf("invalid CPU shares (%d): value must be a positive integer", r.CPUShares)
	}
	if r.CPUShares > MaxShares {
		return invalidf("invalid CPU shares (%d): value must be at most %d", r.CPUShares, MaxShares)
	}
	if r.NanoCPUs != 0 && (r.NanoCPUs < 1e7 || r.NanoCPUs > int64(maxCPUs)*1e9) {
		return invalidf("Range of CPUs is from 0.01 to %[1]d.00, as there are only %[1]d CPUs available", maxCPUs)
	}
	if r.Memory != 0 && r.Memory < MinMemory {
		return invalidf("Minimum memory limit allowed is 6MB")
	}
	if r.Memory > MaxBytes {
		return invalidf("invalid memory limit (%d): value must be at most %d (1 EiB)", r.Memory, int64(MaxBytes))
	}
	if r.MemorySwap < -1 || r.MemorySwap > MaxBytes {
		return invalidf("invalid memory swap limit (%d): want -1 (unlimited) or a size up to 1 EiB", r.MemorySwap)
	}
	if r.Memory > 0 && r.MemorySwap > 0 && r.MemorySwap < r.Memory {
		return invalidf("Minimum memoryswap limit should be larger than memory limit, see usage")
	}
	if r.Memory == 0 && r.MemorySwap > 0 && !update {
		return invalidf("You should always set the Memory limit when using Memoryswap limit, see usage")
	}
	if r.MemoryReservation < 0 || (r.MemoryReservation > 0 && r.MemoryReservation < MinMemory) {
		return invalidf("Minimum memory reservation allowed is 6MB")
	}
	if r.MemoryReservation > MaxBytes {
		return invalidf("invalid memory reservation (%d): value must be at most %d (1 EiB)", r.MemoryReservation, int64(MaxBytes))
	}
	if r.Memory > 0 && r.MemoryReservation > 0 && r.Memory < r.MemoryReservation {
		return invalidf("Minimum memory limit can not be less than memory reservation limit, see usage")
	}
	return nil
}

// CPUs is the reservation the request makes: --cpus when given, else -c
// as whole CPUs (Swarm's meaning). Call it on checked resources.
func (r Resources) CPUs() MilliCPU {
	switch {
	case r.NanoCPUs > 0:
		return MilliCPU(r.NanoCPUs / 1e6)
	case r.CPUShares > 0:
		return CPUs(int(r.CPUShares))
	}
	return 0
}

// ParseNanoCPUs reads --cpus as the docker CLI does: a rational number,
// no finer than a billionth. Its range is Resources.Check's to judge.
func ParseNanoCPUs(s string) (int64, error) {
	rat, ok := new(big.Rat).SetString(s)
	if !ok {
		return 0, invalidf("failed to parse %v as a rational number", Printable(s))
	}
	nano := rat.Mul(rat, big.NewRat(1e9, 1))
	if !nano.IsInt() {
		return 0, invalidf("value is too precise")
	}
	if !nano.Num().IsInt64() {
		return 0, invalidf("value is too large")
	}
	return nano.Num().Int64(), nil
}

// ParseCPUs reads a CPU count such as "2" or "0.5" as --cpus, checked
// as the daemon checks it on a node of maxCPUs CPUs (0: MaxCPUs).
func ParseCPUs(s string, maxCPUs int) (MilliCPU, error) {
	n, err := ParseNanoCPUs(strings.TrimSpace(s))
	if err != nil {
		return 0, err
	}
	r := Resources{NanoCPUs: n}
	if err := r.Check(maxCPUs, false); err != nil {
		return 0, err
	}
	return r.CPUs(), nil
}

// ParseBytes reads a size as docker's -m does: plain bytes, or 512m, 2g,
// 2GiB (binary units, case-insensitive), up to MaxBytes.
func ParseBytes(s string) (int64, error) {
	n, err := parseSize(strings.TrimSpace(s))
	if err != nil {
		return 0, err
	}
	return n, nil
}

// sizeRule is go-units' RAMInBytes syntax.
var sizeRule = regexp.MustCompile(`^(\d+(?:\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$`)

// parseSize is go-units' RAMInBytes without its overflow: a size past
// MaxBytes is an error, never a wrapped negative number.
func parseSize(s string) (int64, error) {
	m := sizeRule.FindStringSubmatch(s)
	if m == nil {
		return 0, invalidf("invalid size: '%s' (want bytes or a size such as 512m, 2g or 2GiB)", Printable(s))
	}
	f, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, invalidf("invalid size: '%s'", s)
	}
	mult := float64(1)
	if m[2] != "" {
		mult = math.Pow(1024, float64(strings.IndexByte("kmgtp", strings.ToLower(m[2])[0])+1))
	}
	v := f * mult
	if v > MaxBytes || math.IsInf(v, 0) {
		return 0, invalidf("invalid size: '%s': larger than 1 EiB", s)
	}
	return int64(v), nil
}

// nameRule is Docker's container name rule (daemon/names), with the
// optional leading slash Docker strips first.
var nameRule = regexp.MustCompile(`^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$`)

// CheckName refuses a container name Docker refuses, with Docker's
// message. The empty name (let the engine choose) is allowed.
func CheckName(name string) error {
	if name == "" || nameRule.MatchString(name) {
		return nil
	}
	return invalidf("Invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", Printable(name))
}

// nodeNameRule is a hostname's characters (as `docker info` gives a
// node's name), underscores allowed.
var nodeNameRule = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// MaxNodeName is the longest node name: a full hostname.
const MaxNodeName = 253

// CheckNodeName refuses a node name that is no hostname: empty, too
// long, or with other characters (slashes, spaces, control characters).
func CheckNodeName(name string) error {
	if len(name) <= MaxNodeName && nodeNameRule.MatchString(name) {
		return nil
	}
	return invalidf("invalid node name %q: a node name is a hostname of at most %d characters, only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
		name, MaxNodeName)
}

// Printable escapes what a string could use to forge or break a log line
// or a terminal: control characters (newlines, escapes) and invalid UTF-8
// come out as Go escapes; everything else is unchanged.
func Printable(s string) string {
	clean := true
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == '\uFFFD' || (r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029' {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	q := strconv.QuoteToGraphic(s)
	q = q[1 : len(q)-1]
	return strings.ReplaceAll(q, `\"`, `"`)
}

// NewOvercommit converts a fraction as Swarm does. Values ≤ -1 are refused
// with Swarm's message, values above MaxOvercommit as out of range.
func NewOvercommit(f float64) (Overcommit, error) {
	if f <= -1 || math.IsNaN(f) {
		return 0, fmt.Errorf("swarm.overcommit should be larger than -1, %f is invalid", f)
	}
	if f > MaxOvercommit {
		return 0, fmt.Errorf("swarm.overcommit should be at most %g (%g times the node), %g is invalid", MaxOvercommit, MaxOvercommit+1, f)
	}
	return Overcommit(int64(f * 100)), nil
}

// CheckConfig refuses a config no entrance should have let in: a name
// Docker refuses, a negative or oversized reservation. The manager calls
// it before it reserves anything, whatever the config came from.
func CheckConfig(cfg Config) error {
	if err := CheckName(cfg.Name); err != nil {
		return err
	}
	if cfg.CPUs < 0 || cfg.CPUs > MaxCPUs*1000 {
		return Resources{NanoCPUs: -1}.Check(0, false)
	}
	return Resources{NanoCPUs: int64(cfg.CPUs) * 1e6, Memory: cfg.Memory}.Check(0, false)
}

// SplitEntry reads a discovery entry, host:port or name=host:port. An
// address holds no '=', so the name is all before the last one, and a
// name that is not a valid node name makes the entry invalid (rather
// than an address that never connects).
func SplitEntry(entry string) (name, addr string, err error) {
	i := strings.LastIndexByte(entry, '=')
	if i < 0 {
		return "", entry, nil
	}
	name, addr = entry[:i], entry[i+1:]
	if err := CheckNodeName(name); err != nil {
		return "", "", invalidf("invalid entry %q: %v", Printable(entry), err)
	}
	return name, addr, nil
}
