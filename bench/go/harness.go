// harness.go - the Go twin of bench/bench_harness.c: every figure runs in
// a fresh process per measurement, the driver reports medians.
//
// The driver re-executes this binary as "--child NAME --scale S --cap T"
// with GOMAXPROCS set, once per figure, GOMAXPROCS value and run, for the
// same reasons as the C harness: ru_maxrss only grows, a warm runtime is
// not what a user starts, and GOMAXPROCS is best fixed from the start.
// The child prints "@metric NAME UNIT VALUE N" and "@note TEXT" lines on
// stdout; the driver prints a table and one JSON line per (quantity,
// GOMAXPROCS), in the C harness's format with "impl":"go", and appends
// them to results.jsonl beside the binary (or -o FILE).
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const childTimeout = 30 * time.Second

type figure struct {
	name  string
	what  string
	run   func()
	byDef bool // run when no figure is named
}

var (
	prog    = "go-bench"
	scale   = 1.0
	timeCap = 0.5
)

// ---------------------------------------------------------------- child

func report(metric, unit string, value float64, n int) {
	fmt.Printf("@metric %s %s %.17g %d\n", metric, unit, value, n)
}

func note(format string, a ...interface{}) {
	fmt.Printf("@note "+format+"\n", a...)
}

func fail(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, prog+": "+format+"\n", a...)
	os.Exit(1)
}

func scaled(n int) int {
	v := int(float64(n) * scale)
	if v < 1 {
		return 1
	}
	return v
}

func deadlineAfterCap() time.Time {
	return time.Now().Add(time.Duration(timeCap * 1e9))
}

// rssBytes is the resident set size now, from /proc/self/statm.
func rssBytes() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		fail("cannot read /proc/self/statm: %v", err)
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		fail("cannot parse /proc/self/statm")
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		fail("cannot parse /proc/self/statm: %v", err)
	}
	return pages * int64(os.Getpagesize())
}

// peakRSSKiB is ru_maxrss, in KiB.
func peakRSSKiB() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Maxrss
}

func childMain(fig *figure) int {
	time.AfterFunc(childTimeout, func() {
		fmt.Fprintf(os.Stderr, "%s: %s: timed out after %v\n", prog, fig.name, childTimeout)
		os.Exit(3)
	})
	fig.run()
	return 0
}

// --------------------------------------------------------------- driver

type entry struct {
	metric, unit string
	order, procs int
	v            []float64
	n            int
	failed       int
}

var (
	entries  []*entry
	nmetrics int
	verbose  bool
)

func entryGet(metric string, procs int) *entry {
	order := -1
	for _, e := range entries {
		if e.metric != metric {
			continue
		}
		order = e.order
		if e.procs == procs {
			return e
		}
	}
	if order < 0 {
		order = nmetrics
		nmetrics++
	}
	e := &entry{metric: metric, order: order, procs: procs}
	entries = append(entries, e)
	return e
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func fmtNum(v float64) string {
	switch {
	case v >= 1000 || v <= -1000:
		return fmt.Sprintf("%.0f", v)
	case v >= 1 || v <= -1:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.4f", v)
	}
}

// fmtJSON prints a number as C's "%.6g" does, so both impls read alike.
func fmtJSON(v float64) string {
	return strconv.FormatFloat(v, 'g', 6, 64)
}

// runChild runs one measurement; ok is false if it failed, timedOut too
// if it outlived childTimeout (exit status 3).
func runChild(exe string, fig *figure, procs, run int) (ok, timedOut bool) {
	cmd := exec.Command(exe, "--child", fig.name,
		"--scale", strconv.FormatFloat(scale, 'g', -1, 64),
		"--cap", strconv.FormatFloat(timeCap, 'g', -1, 64))
	cmd.Env = append(os.Environ(), "GOMAXPROCS="+strconv.Itoa(procs))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: pipe: %v\n", prog, err)
		return false, false
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "%s: cannot run %s: %v\n", prog, exe, err)
		return false, false
	}
	got := 0
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "@metric "):
			f := strings.Fields(line)
			var v float64
			var n int
			if len(f) == 5 {
				v, err = strconv.ParseFloat(f[3], 64)
				if err == nil {
					n, err = strconv.Atoi(f[4])
				}
			}
			if len(f) != 5 || err != nil {
				fmt.Fprintf(os.Stderr, "%s: %s: malformed line from child: %s\n", prog, fig.name, line)
				continue
			}
			e := entryGet(f[1], procs)
			e.unit, e.n = f[2], n
			e.v = append(e.v, v)
			got++
		case strings.HasPrefix(line, "@note "):
			if verbose {
				fmt.Fprintf(os.Stderr, "    [%s GOMAXPROCS=%d run %d] %s\n", fig.name, procs, run+1, line[6:])
			}
		default:
			fmt.Fprintln(os.Stderr, line)
		}
	}
	err = cmd.Wait()
	why := ""
	if err != nil {
		why = err.Error()
	} else if got == 0 {
		why = "reported nothing"
	}
	if why != "" {
		fmt.Fprintf(os.Stderr, "%s: %s (GOMAXPROCS=%d, run %d) failed: %s\n", prog, fig.name, procs, run+1, why)
		entryGet(fig.name, procs).failed++
		return false, cmd.ProcessState != nil && cmd.ProcessState.ExitCode() == 3
	}
	return true, false
}

func printResults(results string) {
	sort.SliceStable(entries, func(i, j int) bool {
		if entries[i].order != entries[j].order {
			return entries[i].order < entries[j].order
		}
		return entries[i].procs < entries[j].procs
	})
	fmt.Printf("\n%-24s %5s %12s %-5s  %s\n", "figure", "procs", "median", "unit", "runs")
	for _, e := range entries {
		med, runs := "failed", []string{}
		if len(e.v) > 0 {
			med = fmtNum(median(e.v))
			for _, v := range e.v {
				runs = append(runs, fmtNum(v))
			}
		}
		if e.failed > 0 {
			runs = append(runs, fmt.Sprintf("(%d failed)", e.failed))
		}
		fmt.Printf("%-24s %5d %12s %-5s  %s\n", e.metric, e.procs, med, e.unit, strings.Join(runs, " "))
	}
	fmt.Println()

	var jsonl *os.File
	if results != "" {
		var err error
		jsonl, err = os.OpenFile(results, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: cannot append to %s: %v (results only on stdout)\n", prog, results, err)
			jsonl = nil
		}
	}
	ts := time.Now().Unix()
	for _, e := range entries {
		med := "null"
		runs := []string{}
		if len(e.v) > 0 {
			med = fmtJSON(median(e.v))
			for _, v := range e.v {
				runs = append(runs, fmtJSON(v))
			}
		}
		line := fmt.Sprintf(`{"bench":"%s","impl":"go","procs":%d,"unit":"%s","median":%s,"runs":[%s],"n":%d,"ts":%d`,
			e.metric, e.procs, e.unit, med, strings.Join(runs, ","), e.n, ts)
		if e.failed > 0 {
			line += fmt.Sprintf(`,"failed":%d`, e.failed)
		}
		line += "}"
		fmt.Println(line)
		if jsonl != nil {
			fmt.Fprintln(jsonl, line)
		}
	}
	if jsonl != nil {
		jsonl.Close()
	}
}

func benchMain(figs []figure) int {
	prog = filepath.Base(os.Args[0])
	a := os.Args
	if len(a) == 7 && a[1] == "--child" && a[3] == "--scale" && a[5] == "--cap" {
		scale, _ = strconv.ParseFloat(a[4], 64)
		timeCap, _ = strconv.ParseFloat(a[6], 64)
		for i := range figs {
			if figs[i].name == a[2] {
				return childMain(&figs[i])
			}
		}
		fmt.Fprintf(os.Stderr, "%s: no figure named '%s'\n", prog, a[2])
		return 2
	}

	fs := flag.NewFlagSet(prog, flag.ContinueOnError)
	runs := fs.Int("r", 3, "runs per figure and GOMAXPROCS value (max 15)")
	procsList := fs.String("p", "1,2", "GOMAXPROCS values, comma-separated")
	fs.Float64Var(&scale, "s", 1, "multiply operation counts (0.1 for a smoke run)")
	fs.Float64Var(&timeCap, "t", 0.5, "cap of each time-capped loop, seconds")
	results := fs.String("o", "", "append the JSON lines to this file (default: results.jsonl beside this binary)")
	noAppend := fs.Bool("n", false, "do not append the JSON lines anywhere")
	fs.BoolVar(&verbose, "v", false, "show each run's notes")
	list := fs.Bool("l", false, "list the figures")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: %s [-r RUNS] [-p PROCS,...] [-s SCALE] [-t SECONDS] [-o FILE] [-n] [-v] [FIGURE...]\n"+
			"The Go twins of greenrt's benchmarks, each run in a fresh process.\n\n", prog)
		fs.PrintDefaults()
		fmt.Fprintf(fs.Output(), "\nfigures (* = run when none is named):\n")
		for _, f := range figs {
			mark := " "
			if f.byDef {
				mark = "*"
			}
			fmt.Fprintf(fs.Output(), " %s%-16s %s\n", mark, f.name, f.what)
		}
	}
	if err := fs.Parse(os.Args[1:]); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if *list {
		for _, f := range figs {
			fmt.Printf("%-16s %s\n", f.name, f.what)
		}
		return 0
	}
	if *runs < 1 || *runs > 15 {
		fmt.Fprintf(os.Stderr, "%s: -r wants 1..15 runs, not %d\n", prog, *runs)
		return 2
	}
	if !(scale > 0 && scale <= 100) || !(timeCap > 0 && timeCap <= 60) {
		fmt.Fprintf(os.Stderr, "%s: -s wants (0, 100] and -t (0, 60] seconds\n", prog)
		return 2
	}
	var procs []int
	for _, s := range strings.Split(*procsList, ",") {
		p, err := strconv.Atoi(s)
		if err != nil || p < 1 || p > 1024 {
			fmt.Fprintf(os.Stderr, "%s: -p wants a list like 1,2, not '%s'\n", prog, *procsList)
			return 2
		}
		procs = append(procs, p)
	}
	want := map[string]bool{}
	for _, name := range fs.Args() {
		found := false
		for _, f := range figs {
			found = found || f.name == name
		}
		if !found {
			fmt.Fprintf(os.Stderr, "%s: no figure named '%s' (%s -l lists them)\n", prog, name, prog)
			return 2
		}
		want[name] = true
	}

	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: cannot find my own executable: %v\n", prog, err)
		return 1
	}
	failures := 0
	for i := range figs {
		f := &figs[i]
		if (len(want) > 0 && !want[f.name]) || (len(want) == 0 && !f.byDef) {
			continue
		}
		for _, p := range procs {
			fmt.Fprintf(os.Stderr, "%s: %s GOMAXPROCS=%d ...", prog, f.name, p)
			if verbose {
				fmt.Fprintln(os.Stderr)
			}
			for r := 0; r < *runs; r++ {
				ok, timedOut := runChild(exe, f, p, r)
				if !ok {
					failures++
				}
				if timedOut {
					fmt.Fprintf(os.Stderr, "%s: %s GOMAXPROCS=%d: skipping its other runs after a timeout\n", prog, f.name, p)
					break
				}
			}
			if e := entryGet(f.name, p); len(e.v) > 0 {
				fmt.Fprintf(os.Stderr, " %s %s\n", fmtNum(median(e.v)), e.unit)
			} else {
				fmt.Fprintln(os.Stderr, " failed")
			}
		}
	}
	path := *results
	if *noAppend {
		path = ""
	} else if path == "" {
		path = filepath.Join(filepath.Dir(exe), "results.jsonl")
	}
	printResults(path)
	if failures > 0 {
		fmt.Fprintf(os.Stderr, "%s: %d run(s) failed\n", prog, failures)
		return 1
	}
	return 0
}
