package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strings"
	"unicode/utf8"
)

// printHeader says what is measured and how, before the first sample.
func printHeader(b *bench, coverNote string, haveTime bool) {
	fmt.Println("minirunc benchmark (make bench): minirunc against crun and runc, one run, same machine state")
	var uname [3]string
	for i, f := range []string{"-r", "-m", "-n"} {
		out, _ := exec.Command("uname", f).Output()
		uname[i] = strings.TrimSpace(string(out))
	}
	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Printf("host: kernel %s %s, %d CPUs, loadavg %s\n", uname[0], uname[1], runtime.NumCPU(),
		strings.Join(strings.Fields(string(load))[:min(3, len(strings.Fields(string(load))))], " "))
	for _, rt := range b.rts {
		out, _ := exec.Command(rt.path, "--version").Output()
		v, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
		fmt.Printf("  %-8s %s (%s)\n", rt.name, rt.path, v)
	}
	fmt.Printf(`method:
  - one busybox rootfs, read-only; /bin/true; pid, net, ipc, uts, mount namespaces; an absolute
    cgroupsPath of its own per container under %s; "run (host netns)" drops the net namespace;
    "run (Docker seccomp)" adds Docker's default seccomp profile (moby/profiles) to run
  - %d rounds; in each, every runtime runs run, run (host netns), run (Docker seccomp), create,
    state, list (1), list (%d),
    start, delete (stopped), then exec /bin/true and delete -f on a running sleep; the runtime
    order rotates each round; the floor is measured at the end of each round
  - list (%d): %d running sleep containers in a second state root of each runtime, present during
    all rounds
  - wall = fork to wait of the runtime command; CPU = user+sys of it and the children it waited for
  - ratios are paired: the median of the per-round ratios, (p25-p75) in brackets; treat differences
    under about 15-20%% as noise (anchors.md 5.7)
`, cgParent, *rounds, *listN, *listN, *listN)
	if haveTime {
		fmt.Printf("  - peak RSS: %d extra rounds of the same operations, each under GNU time -f %%M (a small C\n"+
			"    program; a Go parent's vfork would leak its own maxrss into the child's), wall/CPU not taken from them\n", *rssRounds)
	}
	fmt.Printf("  - scale: %d rounds of %d sleep containers (own bundle, id, cgroup) up (create+start) and down\n"+
		"    (delete --force), sequentially then %d-way parallel, runtime order rotating; ms per phase\n",
		*scaleRounds, *scaleN, *parallel)
	fmt.Println("  - container stdin/stdout /dev/null, stderr a file (a container holding a pipe would delay the timer)")
	if coverNote != "" {
		fmt.Println("  - " + coverNote)
	}
	fmt.Println()
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// quantile is the nearest-rank q-quantile of xs.
func quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	i := int(q*float64(len(s)-1) + 0.5)
	return s[i]
}

func walls(ss []sample) []float64 { return field(ss, func(s sample) float64 { return s.wall }) }
func cpus(ss []sample) []float64  { return field(ss, func(s sample) float64 { return s.cpu }) }

func field(ss []sample, f func(sample) float64) []float64 {
	out := make([]float64, 0, len(ss))
	for _, s := range ss {
		out = append(out, f(s))
	}
	return out
}

// ratios are the per-round ratios a[i]/b[i].
func ratios(a, b []float64) []float64 {
	var rs []float64
	for i := range a {
		if i < len(b) && b[i] > 0 {
			rs = append(rs, a[i]/b[i])
		}
	}
	return rs
}

// paired is the median of the per-round ratios a/b.
func paired(a, b []float64) float64 { return median(ratios(a, b)) }

// pairedCell is "median (p25-p75)" of the per-round ratios a/b.
func pairedCell(a, b []float64) string {
	rs := ratios(a, b)
	if len(rs) == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f (%.2f-%.2f)", median(rs), quantile(rs, 0.25), quantile(rs, 0.75))
}

// table renders as aligned markdown, readable in a terminal and pasteable
// into the README.
type table struct {
	title string
	head  []string
	rows  [][]string
}

func (t *table) add(row ...string) { t.rows = append(t.rows, row) }

func (t *table) String() string {
	w := make([]int, len(t.head))
	for _, r := range append([][]string{t.head}, t.rows...) {
		for i, c := range r {
			if i < len(w) && utf8.RuneCountInString(c) > w[i] {
				w[i] = utf8.RuneCountInString(c)
			}
		}
	}
	var sb strings.Builder
	if t.title != "" {
		sb.WriteString(t.title + "\n\n")
	}
	line := func(r []string, sep bool) {
		sb.WriteString("|")
		for i := range w {
			c := ""
			if i < len(r) {
				c = r[i]
			}
			switch {
			case sep && i == 0:
				c = strings.Repeat("-", w[i])
			case sep:
				c = strings.Repeat("-", w[i]-1) + ":"
			case i == 0:
				c += strings.Repeat(" ", w[i]-utf8.RuneCountInString(c))
			default:
				c = strings.Repeat(" ", w[i]-utf8.RuneCountInString(c)) + c
			}
			sb.WriteString(" " + c + " |")
		}
		sb.WriteString("\n")
	}
	line(t.head, false)
	line(nil, true)
	for _, r := range t.rows {
		line(r, false)
	}
	return sb.String()
}

func f1(x float64) string { return fmt.Sprintf("%.1f", x) }
func f2(x float64) string { return fmt.Sprintf("%.2f", x) }

// opLabel is the report name of op.
func opLabel(op string) string {
	if op == opListN {
		return fmt.Sprintf("list (%d)", *listN)
	}
	return op
}

// others are the reference runtimes (crun, runc) that were found.
func (b *bench) others() []*runtimeUnderTest { return b.rts[1:] }

func (b *bench) find(name string) *runtimeUnderTest {
	for _, rt := range b.rts {
		if rt.name == name {
			return rt
		}
	}
	return nil
}

// newTable starts a table whose columns are first, each runtime's median
// (in unit), then minirunc's paired ratio to each other runtime.
func (b *bench) newTable(title, first, unit string) *table {
	t := &table{title: title, head: []string{first}}
	for _, rt := range b.rts {
		t.head = append(t.head, rt.name+" "+unit)
	}
	for _, rt := range b.others() {
		t.head = append(t.head, "minirunc/"+rt.name)
	}
	return t
}

// timeTable is the wall or CPU medians and paired ratios of every single
// operation.
func (b *bench) timeTable(title string, get func([]sample) []float64) *table {
	t := b.newTable(title, "operation", "ms")
	mr := b.rts[0]
	crun, runc := b.find("crun"), b.find("runc")
	if crun != nil && runc != nil {
		t.head = append(t.head, "crun/runc")
	}
	for _, op := range singleOps {
		row := []string{opLabel(op)}
		for _, rt := range b.rts {
			row = append(row, f2(median(get(rt.samples[op]))))
		}
		for _, rt := range b.others() {
			row = append(row, pairedCell(get(mr.samples[op]), get(rt.samples[op])))
		}
		if crun != nil && runc != nil {
			row = append(row, pairedCell(get(crun.samples[op]), get(runc.samples[op])))
		}
		t.add(row...)
	}
	return t
}

func (b *bench) rssTable() *table {
	t := b.newTable(fmt.Sprintf("Peak RSS (GNU time %%M, KiB, median of %d extra rounds; ratios paired)", *rssRounds), "operation", "KiB")
	mr := b.rts[0]
	for _, op := range singleOps {
		row := []string{opLabel(op)}
		for _, rt := range b.rts {
			row = append(row, fmt.Sprintf("%.0f", median(rt.rss[op])))
		}
		for _, rt := range b.others() {
			row = append(row, f2(paired(mr.rss[op], rt.rss[op])))
		}
		t.add(row...)
	}
	for _, n := range append(floorCmds[:len(floorCmds):len(floorCmds)], refTrue) {
		t.add("ref: "+floorLabel[n], fmt.Sprintf("%.0f", median(b.rssRef[n])))
	}
	return t
}

func (b *bench) scaleTable() *table {
	t := b.newTable(fmt.Sprintf("Scale: %d sleep containers, ms per phase (median of %d rounds; seq = one at a time, par = %d-way; ratios paired)",
		*scaleN, *scaleRounds, *parallel), "phase", "ms")
	mr := b.rts[0]
	for _, ph := range scalePhases {
		row := []string{ph}
		for _, rt := range b.rts {
			row = append(row, fmt.Sprintf("%.0f", median(rt.scale[ph])))
		}
		for _, rt := range b.others() {
			row = append(row, pairedCell(mr.scale[ph], rt.scale[ph]))
		}
		t.add(row...)
	}
	return t
}

// floorTable is the floor, and each runtime's run against it (paired by
// round): run vs the floor with --net, run (host netns) vs without.
func (b *bench) floorTable() *table {
	t := &table{title: "Floor (no runtime: namespaces + chroot + /bin/true) and each run's distance from it (paired ratios of wall and of CPU)",
		head: []string{"command", "wall ms", "CPU ms"}}
	for _, n := range floorCmds {
		t.add(n, f2(median(walls(b.floor[n]))), f2(median(cpus(b.floor[n]))))
	}
	for _, rt := range b.rts {
		t.add(rt.name+" run / floor (net)", pairedCell(walls(rt.samples[opRun]), walls(b.floor[floorNet])),
			pairedCell(cpus(rt.samples[opRun]), cpus(b.floor[floorNet])))
		t.add(rt.name+" run (host netns) / floor (no net)", pairedCell(walls(rt.samples[opRunHost]), walls(b.floor[floorNoNet])),
			pairedCell(cpus(rt.samples[opRunHost]), cpus(b.floor[floorNoNet])))
	}
	return t
}

// summary is the compact markdown table for the README.
func (b *bench) summary(haveTime bool) *table {
	mr := b.rts[0]
	t := &table{head: []string{"operation"}}
	for _, rt := range b.rts {
		t.head = append(t.head, rt.name+" wall ms")
	}
	for _, rt := range b.others() {
		t.head = append(t.head, "wall ×"+rt.name)
	}
	for _, rt := range b.others() {
		t.head = append(t.head, "CPU ×"+rt.name)
	}
	if haveTime {
		for _, rt := range b.rts {
			t.head = append(t.head, rt.name+" RSS KiB")
		}
		for _, rt := range b.others() {
			t.head = append(t.head, "RSS ×"+rt.name)
		}
	}
	for _, op := range singleOps {
		row := []string{"`" + opLabel(op) + "`"}
		for _, rt := range b.rts {
			row = append(row, f1(median(walls(rt.samples[op]))))
		}
		for _, rt := range b.others() {
			row = append(row, "**"+f2(paired(walls(mr.samples[op]), walls(rt.samples[op])))+"**")
		}
		for _, rt := range b.others() {
			row = append(row, f2(paired(cpus(mr.samples[op]), cpus(rt.samples[op]))))
		}
		if haveTime {
			for _, rt := range b.rts {
				row = append(row, fmt.Sprintf("%.0f", median(rt.rss[op])))
			}
			for _, rt := range b.others() {
				row = append(row, f2(paired(mr.rss[op], rt.rss[op])))
			}
		}
		t.add(row...)
	}
	for _, ph := range []string{seqBoth, parBoth} {
		row := []string{fmt.Sprintf("%d containers %s", *scaleN, ph)}
		for _, rt := range b.rts {
			row = append(row, fmt.Sprintf("%.0f", median(rt.scale[ph])))
		}
		for _, rt := range b.others() {
			row = append(row, "**"+f2(paired(mr.scale[ph], rt.scale[ph]))+"**")
		}
		t.add(row...)
	}
	return t
}

func (b *bench) report(haveTime bool) {
	fmt.Println()
	fmt.Print(b.timeTable(fmt.Sprintf("Wall time (ms, median of %d rounds; ratios paired: median (p25-p75) of per-round ratios)", *rounds), walls), "\n")
	fmt.Print(b.timeTable("User+sys CPU time (ms, median; ratios paired)", cpus), "\n")
	if haveTime {
		fmt.Print(b.rssTable(), "\n")
	}
	fmt.Print(b.scaleTable(), "\n")
	fmt.Print(b.floorTable(), "\n")
	if !*markdown {
		return
	}
	names := make([]string, len(b.rts))
	for i, rt := range b.rts {
		names[i] = rt.name
	}
	fmt.Println("---- markdown for the README ----")
	fmt.Println()
	fmt.Printf("`make bench` (%d rounds, %d RSS rounds, %d scale rounds; %s interleaved and rotated in one run). "+
		"×X = minirunc/X, the median of per-round ratios (wall, user+sys CPU, peak RSS from GNU time %%M); "+
		"below 1 is better. Scale rows: ms for %d containers up (create+start) and down (delete --force).\n\n",
		*rounds, *rssRounds, *scaleRounds, strings.Join(names, ", "), *scaleN)
	fmt.Print(b.summary(haveTime))
	fmt.Printf("\nFloor (`unshare` mnt/uts/ipc/pid/net `--fork chroot rootfs /bin/true`): %.2f ms wall, %.2f ms CPU; without net %.2f ms.\n",
		median(walls(b.floor[floorNet])), median(cpus(b.floor[floorNet])), median(walls(b.floor[floorNoNet])))
}
