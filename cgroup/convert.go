package cgroup

import (
	"errors"
	"math"
	"strconv"
)

// SharesToWeight turns v1 cpu.shares [2, 262144] into v2 cpu.weight
// [1, 10000] as runc (opencontainers/cgroups) and crun do since 2025: a
// quadratic in log2 space that maps 2 -> 1, 1024 (the v1 default) -> 100
// (the v2 default) and 262144 -> 10000. 0 stays 0 ("not set").
func SharesToWeight(shares uint64) uint64 {
	switch {
	case shares == 0:
		return 0
	case shares <= minShares:
		return 1
	case shares >= maxShares:
		return 10000
	}
	l := math.Log2(float64(shares))
	exp := (l*l+125*l)/612.0 - 7.0/34.0
	return uint64(math.Ceil(math.Pow(10, exp)))
}

// BlkioWeightToIOWeight turns a v1 blkio weight [10, 1000] into a v2
// io.weight [1, 10000] linearly, as runc does. 0 stays 0.
func BlkioWeightToIOWeight(w uint64) uint64 {
	if w == 0 {
		return 0
	}
	return 1 + (w-minWeight)*9999/(maxWeight-minWeight)
}

// SwapToV2 turns the spec's memory.swap (v1 memsw: memory plus swap) into
// v2 memory.swap.max (swap alone), as runc does. 0 means "not set" and
// -1 "unlimited"; an unlimited memory with no swap given means unlimited
// swap too.
func SwapToV2(swap, memory int64) (int64, error) {
	if memory == -1 && swap == 0 {
		return -1, nil
	}
	if swap == -1 || swap == 0 {
		return swap, nil
	}
	if memory == 0 || memory == -1 {
		return 0, errors.New("memory.swap cannot be set without memory.limit on cgroup v2")
	}
	if swap < memory {
		return 0, errors.New("memory.swap must be at least memory.limit (it counts memory plus swap)")
	}
	return swap - memory, nil
}

// CPUMax is the v2 cpu.max line for a quota and period: "max" for no
// quota, the period left as the kernel's when not given.
func CPUMax(quota int64, period uint64) string {
	q := "max"
	if quota > 0 {
		q = strconv.FormatInt(quota, 10)
	}
	if period == 0 {
		return q
	}
	return q + " " + strconv.FormatUint(period, 10)
}

// v2Limit formats a v2 limit: -1 is "max".
func v2Limit(v int64) string {
	if v < 0 {
		return "max"
	}
	return strconv.FormatInt(v, 10)
}
