package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/clearhouse-dev/clearhouse/internal/diff"
)

// cgroupMemoryMax is where a container's memory limit is read (cgroup v2).
const cgroupMemoryMax = "/sys/fs/cgroup/memory.max"

// workerOverhead is what a worker needs beside the engine's budget: the Go runtime,
// the readers' buffers, the store's writes (the budget + 64 MiB bound of the
// benchmarks).
const workerOverhead = 64 << 20

// containerMemoryLimit reads the memory limit of the container from path; ok is false
// when there is none ("max") or it cannot be read.
func containerMemoryLimit(path string) (int64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || n <= 0 {
		return 0, false
	}
	return n, true
}

// fitBudget returns the hash budget a worker uses under a container memory limit: the
// job's (diff.DefaultMemoryBudget when unset), lowered to the limit less the worker's
// overhead when it does not fit, and why it was lowered. A budget over the limit would
// get the pod OOM-killed, each retry alike, instead of spilling more.
func fitBudget(budget, limit int64) (int64, string) {
	b := budget
	if b <= 0 {
		b = diff.DefaultMemoryBudget
	}
	room := max(limit-workerOverhead, diff.MinMemoryBudget)
	if b <= room {
		return budget, ""
	}
	return room, fmt.Sprintf("memory budget %d bytes lowered to %d: the container's memory limit is %d bytes and a worker needs %d beside its budget",
		b, room, limit, int64(workerOverhead))
}
