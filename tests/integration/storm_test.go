package integration

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The concurrency storm (issue 11): 8 workers run create, start, exec,
// kill, delete, state and list on a window of containers in random order,
// often on the same id at once (two delete --force, kill during start,
// state during delete, exec during delete, create during delete). Every
// call must end as a user would expect (allowed per operation below),
// list must agree with the processes once the storm settles, and nothing
// may leak. `make test` runs 64 containers; `make stress` runs 1000
// (MINIRUNC_STORM_SIZE).

const (
	stormWorkers = 8
	stormWindow  = 12 // containers in play at once
	stormOpsPer  = 10 // operations aimed at each container
)

// stormCall is one finished call of the storm.
type stormCall struct {
	op     string // the operation, e.g. "delete --force"
	code   int
	stdout string
	stderr string
	err    error // the call could not be made or timed out
}

// stormRun runs minirunc --root root args, safely from any goroutine.
func stormRun(dir, root string, args ...string) stormCall {
	c := stormCall{op: stormOpName(args)}
	so, err := os.CreateTemp(dir, "out-")
	if err != nil {
		c.err = err
		return c
	}
	se, err := os.CreateTemp(dir, "err-")
	if err != nil {
		so.Close()
		c.err = err
		return c
	}
	defer func() {
		so.Close()
		se.Close()
		os.Remove(so.Name())
		os.Remove(se.Name())
	}()
	cmd := exec.Command(minirunc, append([]string{"--root", root}, args...)...)
	cmd.Stdout, cmd.Stderr = so, se
	if err := cmd.Start(); err != nil {
		c.err = err
		return c
	}
	var timedOut atomic.Bool
	timer := time.AfterFunc(60*time.Second, func() { timedOut.Store(true); cmd.Process.Kill() })
	err = cmd.Wait()
	timer.Stop()
	if timedOut.Load() {
		c.err = fmt.Errorf("timed out after 60s")
	}
	if ee, ok := err.(*exec.ExitError); ok {
		c.code = ee.ExitCode()
	} else if err != nil && c.err == nil {
		c.err = err
	}
	o, _ := os.ReadFile(so.Name())
	e, _ := os.ReadFile(se.Name())
	c.stdout, c.stderr = string(o), strings.TrimSpace(string(e))
	return c
}

func stormOpName(args []string) string {
	switch args[0] {
	case "delete":
		if len(args) > 1 && args[1] == "--force" {
			return "delete --force"
		}
	case "kill":
		return "kill " + args[len(args)-1]
	}
	return args[0]
}

var stormNumbers = regexp.MustCompile(`[0-9]+`)

// stormKind is what the user saw, with the id and numbers taken out.
func stormKind(id string, c stormCall) string {
	if c.err != nil {
		return "harness error: " + c.err.Error()
	}
	msg := strings.TrimPrefix(c.stderr, "minirunc: ")
	if id != "" {
		msg = strings.ReplaceAll(msg, id, "<id>")
	}
	msg = stormNumbers.ReplaceAllString(msg, "N")
	if c.code == 0 && msg == "" {
		return "ok"
	}
	return fmt.Sprintf("exit %d: %s", c.code, msg)
}

// stormAllowed lists what each operation may end with while other calls
// race it. Anything else is a failure.
var stormAllowed = map[string][]string{
	"create": {"ok", "exit 1: container with id exists: <id>", "exit 1: container <id> was deleted while it was being created"},
	"start": {"ok", "exit 1: container does not exist", "exit 1: cannot start a container that has stopped",
		"exit 1: cannot start an already running container", "exit 1: container init exited before start", "exit 1: container not running"},
	// exec runs `true` in the foreground: 0, or 137 when a kill or a
	// delete took the container meanwhile.
	"exec": {"ok", "exit 137: ", "exit 1: container does not exist", "exit 1: container not running",
		"exit 1: container init exited unexpectedly"},
	"kill KILL":      {"ok", "exit 1: container does not exist", "exit 1: container not running"},
	"kill TERM":      {"ok", "exit 1: container does not exist", "exit 1: container not running"},
	"delete":         {"ok", "exit 1: container does not exist", "exit 1: cannot delete container <id> that is not stopped: running"},
	"delete --force": {"ok"},
	"state":          {"ok", "exit 1: container does not exist"},
	"list":           {"ok"},
}

// stormStats counts calls and outcomes.
type stormStats struct {
	mu       sync.Mutex
	calls    int
	outcomes map[string]int // "op -> kind"
	failures map[string]int
	examples map[string]string
}

func (s *stormStats) record(id string, c stormCall) {
	kind := stormKind(id, c)
	ok := false
	for _, a := range stormAllowed[c.op] {
		if kind == a {
			ok = true
		}
	}
	if ok && c.code == 0 {
		if bad := stormCheckOutput(id, c); bad != "" {
			kind, ok = bad, false
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	s.outcomes[c.op+" -> "+kind]++
	if !ok {
		key := c.op + " -> " + kind
		s.failures[key]++
		if _, seen := s.examples[key]; !seen {
			s.examples[key] = fmt.Sprintf("id %s: stdout %q stderr %q", id, c.stdout, c.stderr)
		}
	}
}

// stormCheckOutput checks what a successful state or list printed.
func stormCheckOutput(id string, c stormCall) string {
	var states []map[string]any
	switch c.op {
	case "state":
		var st map[string]any
		if err := json.Unmarshal([]byte(c.stdout), &st); err != nil {
			return "state printed no JSON"
		}
		if st["id"] != id {
			return fmt.Sprintf("state of %s printed id %v", id, st["id"])
		}
		states = append(states, st)
	case "list":
		if err := json.Unmarshal([]byte(c.stdout), &states); err != nil && strings.TrimSpace(c.stdout) != "null" {
			return "list printed no JSON"
		}
	default:
		return ""
	}
	for _, st := range states {
		pid, _ := st["pid"].(float64)
		switch st["status"] {
		case "created", "running":
			if pid <= 0 {
				return fmt.Sprintf("%s %v with pid %v", c.op, st["status"], pid)
			}
		case "stopped":
			if pid != 0 {
				return fmt.Sprintf("%s stopped with pid %v", c.op, pid)
			}
		case "creating":
			// list does not wait for a create under way (state does).
			if c.op != "list" {
				return fmt.Sprintf("%s shows status creating", c.op)
			}
		default:
			return fmt.Sprintf("%s shows status %v", c.op, st["status"])
		}
	}
	return ""
}

// stormPairs are the races run on purpose: two calls on one id at once.
var stormPairs = [][2][]string{
	{{"delete", "--force"}, {"delete", "--force"}},
	{{"kill", "KILL"}, {"start"}},
	{{"state"}, {"delete", "--force"}},
	{{"exec", "true"}, {"delete", "--force"}},
	{{"create"}, {"delete", "--force"}},
	{{"start"}, {"start"}},
	{{"delete"}, {"kill", "KILL"}},
}

func TestStorm(t *testing.T) {
	n := 100
	if v := os.Getenv("MINIRUNC_STORM_SIZE"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n <= 0 {
			t.Fatalf("MINIRUNC_STORM_SIZE=%q", v)
		}
	}
	runStorm(t, n)
}

func runStorm(t *testing.T, n int) {
	e := NewEnv(t)
	adoptOrphans(t)
	seed := time.Now().UnixNano()
	if v := os.Getenv("MINIRUNC_STORM_SEED"); v != "" {
		seed, _ = strconv.ParseInt(v, 10, 64)
	}
	t.Logf("storm: %d containers, %d workers, seed %d", n, stormWorkers, seed)
	mark := fmt.Sprintf("storm-%d", seed)
	// One shared read-only rootfs; a bundle per container holds only
	// its config.json (its own absolute cgroupsPath).
	ids := make([]string, n)
	bundles := map[string]string{}
	for i := range ids {
		id := fmt.Sprintf("storm-%d-%d", i, idCounter.Add(1))
		ids[i] = id
		b := filepath.Join(e.dir, "bundle-"+id)
		if err := os.MkdirAll(b, 0o755); err != nil {
			t.Fatal(err)
		}
		s := defaultSpec()
		s.Root = &specs.Root{Path: baseRoot, Readonly: true}
		s.Process.Args = []string{"sleep", "1000"}
		s.Process.Env = append(s.Process.Env, "MINIRUNC_STORM_MARK="+mark)
		s.Linux.CgroupsPath = cgroupParent + "/" + id
		e.WriteSpec(b, s)
		bundles[id] = b
	}
	stats := &stormStats{outcomes: map[string]int{}, failures: map[string]int{}, examples: map[string]string{}}
	tmp := t.TempDir()
	args := func(id string, op []string) []string {
		switch op[0] {
		case "create":
			return []string{"create", "--bundle", bundles[id], id}
		case "exec":
			return []string{"exec", id, "true"}
		case "list":
			return []string{"list", "--format", "json"}
		}
		if op[0] == "kill" {
			return []string{"kill", id, op[1]}
		}
		return append(append([]string(nil), op...), id)
	}
	ops := [][]string{{"create"}, {"create"}, {"create"}, {"start"}, {"start"}, {"start"}, {"exec", "true"}, {"exec", "true"}, {"kill", "KILL"}, {"kill", "TERM"},
		{"delete"}, {"delete", "--force"}, {"state"}, {"state"}, {"list"}}

	var (
		mu      sync.Mutex
		window  []string
		budget  = map[string]int{}
		next    int
		rng     = rand.New(rand.NewSource(seed))
		wg      sync.WaitGroup
		started = time.Now()
	)
	// pick returns an id in play, its operations and whether to race a
	// pair; "" when the storm is over.
	pick := func() (string, [][]string) {
		mu.Lock()
		defer mu.Unlock()
		for len(window) < stormWindow && next < n {
			window = append(window, ids[next])
			budget[ids[next]] = stormOpsPer
			next++
		}
		if len(window) == 0 {
			return "", nil
		}
		i := rng.Intn(len(window))
		id := window[i]
		var todo [][]string
		if budget[id] == stormOpsPer {
			todo = [][]string{{"create"}} // a container's life starts here
		} else if rng.Intn(100) < 20 {
			p := stormPairs[rng.Intn(len(stormPairs))]
			todo = [][]string{p[0], p[1]}
		} else {
			todo = [][]string{ops[rng.Intn(len(ops))]}
		}
		if budget[id] -= len(todo); budget[id] <= 0 {
			window = append(window[:i], window[i+1:]...)
		}
		return id, todo
	}
	for w := 0; w < stormWorkers; w++ {
		dir := filepath.Join(tmp, strconv.Itoa(w))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				id, todo := pick()
				if id == "" {
					return
				}
				var pw sync.WaitGroup
				for _, op := range todo {
					pw.Add(1)
					go func() {
						defer pw.Done()
						stats.record(id, stormRun(dir, e.Root, args(id, op)...))
					}()
				}
				pw.Wait()
			}
		}()
	}
	wg.Wait()
	stormTime := time.Since(started)

	// Settled: list must agree with state and with the processes.
	leaks := stormSettle(t, e, tmp, ids, mark)
	t.Logf("storm: %d containers, %d calls in %v (%.0f calls/s)", n, stats.calls, stormTime.Round(time.Millisecond), float64(stats.calls)/stormTime.Seconds())
	var keys []string
	for k := range stats.outcomes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t.Logf("storm:   %6d  %s", stats.outcomes[k], k)
	}
	nf := 0
	for _, v := range stats.failures {
		nf += v
	}
	t.Logf("storm: failures: %d", nf)
	for k, v := range stats.failures {
		t.Errorf("storm: unexpected outcome %d times: %s (e.g. %s)", v, k, stats.examples[k])
	}
	t.Logf("storm: leaks found: %d", len(leaks))
	for _, l := range leaks {
		t.Errorf("storm: leak: %s", l)
	}
}

// stormSettle checks list against the processes once nothing runs, then
// deletes everything and returns what was left behind.
func stormSettle(t *testing.T, e *Env, tmp string, ids []string, mark string) []string {
	var leaks []string
	ls := stormRun(tmp, e.Root, "list", "--format", "json")
	var listed []map[string]any
	if ls.code != 0 || (json.Unmarshal([]byte(ls.stdout), &listed) != nil && strings.TrimSpace(ls.stdout) != "null") {
		t.Errorf("list after the storm: exit %d: %s %s", ls.code, ls.stdout, ls.stderr)
	}
	for _, c := range listed {
		id, _ := c["id"].(string)
		pid := int(c["pid"].(float64))
		switch c["status"] {
		case "created", "running":
			if pidGone(pid) {
				t.Errorf("list: %s is %v with pid %d, which is gone", id, c["status"], pid)
			}
			if (c["status"] == "created") != holdsExecFifo(pid) {
				t.Errorf("list: %s is %v, but its init's hold of the exec fifo says otherwise", id, c["status"])
			}
		case "stopped":
		default:
			t.Errorf("list: %s has status %v", id, c["status"])
		}
		st := stormRun(tmp, e.Root, "state", id)
		var s map[string]any
		if st.code != 0 || json.Unmarshal([]byte(st.stdout), &s) != nil || s["status"] != c["status"] {
			t.Errorf("state %s disagrees with list (%v): exit %d %s %s", id, c["status"], st.code, st.stdout, st.stderr)
		}
	}
	// Delete everything, 8 at a time.
	var wg sync.WaitGroup
	var mu sync.Mutex
	sem := make(chan struct{}, stormWorkers)
	for _, id := range ids {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if d := stormRun(tmp, e.Root, "delete", "--force", id); d.code != 0 || d.stderr != "" {
				mu.Lock()
				leaks = append(leaks, fmt.Sprintf("delete --force %s: exit %d: %s", id, d.code, d.stderr))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if out := stormRun(tmp, e.Root, "list", "-q"); out.code != 0 || strings.TrimSpace(out.stdout) != "" {
		leaks = append(leaks, "list after deleting everything: "+out.stdout+out.stderr)
	}
	for _, d := range containerDirs(e.Root) {
		leaks = append(leaks, "state dir "+d)
	}
	for _, id := range ids {
		for _, d := range hostCgroupDirs(id) {
			leaks = append(leaks, "cgroup "+d)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	var procs []string
	for {
		procs = markedProcs("MINIRUNC_STORM_MARK=" + mark)
		if len(procs) == 0 || time.Now().After(deadline) {
			break
		}
		sleepBriefly()
	}
	for _, p := range procs {
		leaks = append(leaks, "process "+p)
	}
	data, _ := os.ReadFile("/proc/self/mountinfo")
	for _, line := range strings.Split(string(data), "\n") {
		if strings.Contains(line, e.dir) || strings.Contains(line, baseRoot) {
			leaks = append(leaks, "mount "+line)
		}
	}
	return leaks
}

// markedProcs lists live processes whose environment holds kv.
func markedProcs(kv string) []string {
	var out []string
	ents, _ := os.ReadDir("/proc")
	for _, ent := range ents {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil || pidGone(pid) {
			continue
		}
		env, _ := os.ReadFile("/proc/" + ent.Name() + "/environ")
		if strings.Contains(string(env), kv+"\x00") {
			cmdline, _ := os.ReadFile("/proc/" + ent.Name() + "/cmdline")
			out = append(out, ent.Name()+" "+strings.ReplaceAll(string(cmdline), "\x00", " "))
		}
	}
	return out
}
