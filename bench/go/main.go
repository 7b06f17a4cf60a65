// go-bench: the Go twins of greenrt's benchmarks (bench/bench_sched.c,
// bench/bench_io.c), with the same figures, runs and output format, so
// bench/side_by_side.awk can set the two side by side.
package main

import "os"

func main() {
	figs := []figure{
		{"spawn_join", "spawn+join 1,000,000 goroutines through a sync.WaitGroup (ns each, peak RSS)", benchSpawnJoin, true},
		{"parked_rss", "RSS per goroutine with 1,000,000 parked on one channel (bytes)", benchParkedRSS, true},
		{"chan_roundtrip", "unbuffered channel round trip between two goroutines (ns)", benchChanRoundtrip, true},
		{"yield", "runtime.Gosched between two goroutines (ns per yield)", benchYield, true},
		{"mutex_contended", "4 goroutines contending a sync.Mutex (ns per lock/unlock, hand-off share)", benchMutexContended, true},
		{"group_cancel", "cancel a context of 10,000 goroutines parked on a channel (ns until all returned)", benchGroupCancel, true},
		{"group_cancel_io", "cancel a context of 10,000 goroutines parked in conn.Read on idle sockets (ns until all returned)", benchGroupCancelIO, true},
		{"pipe_roundtrip", "1-byte round trip over two pipes between two goroutines (ns)", benchPipeRoundtrip, false},
	}
	os.Exit(benchMain(figs))
}
