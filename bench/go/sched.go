// sched.go - the Go twins of bench/bench_sched.c, figure for figure (see
// that file for what each measures).  Go 1.19's runtime is the bar the
// greenrt scheduler is measured against: sync.WaitGroup for gr_wg,
// unbuffered chans, runtime.Gosched for gr_yield, sync.Mutex for
// gr_mutex.
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

const (
	spawnN     = 1000000
	parkN      = 1000000
	roundtripN = 2000000
	yieldN     = 10000000 // per goroutine
	mutexN     = 5000000  // per goroutine
	mutexG     = 4
	groupN     = 10000
	checkEvery = 1024 // loop iterations between looks at the clock
)

func noteStats(when string) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	note("%s: goroutines=%d gc=%d stack_inuse=%d heap_inuse=%d", when,
		runtime.NumGoroutine(), ms.NumGC, ms.StackInuse, ms.HeapInuse)
}

// waitAllParked: n goroutines each bump *arrived just before they block;
// waits until all have, then gives the scheduler a moment to finish the
// last few parks (bench_sched.c's wait_all_parked).
func waitAllParked(arrived *int64, n int, fig string) {
	giveUp := time.Now().Add(60 * time.Second)
	for atomic.LoadInt64(arrived) < int64(n) {
		if time.Now().After(giveUp) {
			fail("%s: only %d of %d goroutines ran within 60 s", fig, atomic.LoadInt64(arrived), n)
		}
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
}

func benchSpawnJoin() {
	n := scaled(spawnN)
	var wg sync.WaitGroup
	t0 := time.Now()
	wg.Add(n)
	for i := 0; i < n; i++ {
		go func() { wg.Done() }()
	}
	wg.Wait()
	el := time.Since(t0)
	report("spawn_join", "ns", float64(el.Nanoseconds())/float64(n), n)
	report("spawn_join_peak_rss", "KiB", float64(peakRSSKiB()), n)
	noteStats("after join")
}

func benchParkedRSS() {
	n := scaled(parkN)
	ch := make(chan struct{})
	var wg sync.WaitGroup
	var arrived, released int64
	wg.Add(n)
	before := rssBytes()
	for i := 0; i < n; i++ {
		go func() {
			atomic.AddInt64(&arrived, 1)
			if _, ok := <-ch; !ok {
				atomic.AddInt64(&released, 1)
			}
			wg.Done()
		}()
	}
	waitAllParked(&arrived, n, "parked_rss")
	after := rssBytes()
	noteStats("all parked")
	report("parked_rss", "B", float64(after-before)/float64(n), n)
	close(ch)
	wg.Wait()
	if r := atomic.LoadInt64(&released); r != int64(n) {
		fail("parked_rss: close released %d of %d receivers", r, n)
	}
}

func benchChanRoundtrip() {
	n := int64(scaled(roundtripN))
	ping, pong := make(chan int64), make(chan int64)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		for v := range ping {
			pong <- v
		}
		wg.Done()
	}()
	for v := int64(0); v < 1000; v++ { // warm up
		ping <- v
		<-pong
	}
	t0 := time.Now()
	deadline := deadlineAfterCap()
	v := int64(0)
	for v < n {
		ping <- v
		if back := <-pong; back != v {
			fail("chan_roundtrip: sent %d, got back %d", v, back)
		}
		v++
		if v%checkEvery == 0 && time.Now().After(deadline) {
			break
		}
	}
	el := time.Since(t0)
	close(ping)
	wg.Wait()
	report("chan_roundtrip", "ns", float64(el.Nanoseconds())/float64(v), int(v))
	noteStats("after round trips")
}

func benchYield() {
	var stop int32
	var count [2]int
	var wg sync.WaitGroup
	yielder := func(me int) {
		n := scaled(yieldN)
		deadline := deadlineAfterCap()
		i := 0
		for i < n {
			runtime.Gosched()
			i++
			if i%checkEvery == 0 {
				if atomic.LoadInt32(&stop) != 0 {
					break
				}
				if time.Now().After(deadline) {
					atomic.StoreInt32(&stop, 1)
				}
			}
		}
		atomic.StoreInt32(&stop, 1)
		count[me] = i
		wg.Done()
	}
	wg.Add(2)
	t0 := time.Now()
	go yielder(0)
	go yielder(1)
	wg.Wait()
	el := time.Since(t0)
	total := count[0] + count[1]
	report("yield", "ns", float64(el.Nanoseconds())/float64(total), total)
	note("yields: %d + %d", count[0], count[1])
}

func benchMutexContended() {
	var mu sync.Mutex
	counter, handoffs, lastOwner := 0, 0, -1 // guarded by mu
	var count [mutexG]int
	var stop int32
	var wg sync.WaitGroup
	locker := func(me int) {
		n := scaled(mutexN)
		deadline := deadlineAfterCap()
		i := 0
		for i < n {
			mu.Lock()
			counter++
			if lastOwner != me {
				handoffs++
				lastOwner = me
			}
			mu.Unlock()
			i++
			if i%checkEvery == 0 {
				if atomic.LoadInt32(&stop) != 0 {
					break
				}
				if time.Now().After(deadline) {
					atomic.StoreInt32(&stop, 1)
				}
			}
		}
		atomic.StoreInt32(&stop, 1)
		count[me] = i
		wg.Done()
	}
	wg.Add(mutexG)
	t0 := time.Now()
	for g := 0; g < mutexG; g++ {
		go locker(g)
	}
	wg.Wait()
	el := time.Since(t0)
	total := 0
	for _, c := range count {
		total += c
	}
	mu.Lock()
	if counter != total {
		fail("mutex_contended: counter is %d after %d locked increments", counter, total)
	}
	h := handoffs
	mu.Unlock()
	report("mutex_contended", "ns", float64(el.Nanoseconds())/float64(total), total)
	report("mutex_handoff_frac", "ratio", float64(h)/float64(total), total)
	note("pairs per goroutine: %s", fmt.Sprint(count))
}

// benchGroupCancel: the twin of group_cancel.  A greenrt group member
// parked on a channel is interrupted by the cancellation; a Go goroutine
// must select on ctx.Done() for the same effect.
func benchGroupCancel() {
	n := scaled(groupN)
	ctx, cancel := context.WithCancel(context.Background())
	never := make(chan struct{})
	var wg sync.WaitGroup
	var arrived, last int64
	wg.Add(n)
	for i := 0; i < n; i++ {
		go func() {
			atomic.AddInt64(&arrived, 1)
			select {
			case <-never:
				fail("group_cancel: a receive from a channel nobody sends on returned")
			case <-ctx.Done():
			}
			noteLatest(&last)
			wg.Done()
		}()
	}
	timeCancel("group_cancel", n, &arrived, &last, cancel, &wg)
}

// noteLatest raises *last to now: the time the last member returned.
func noteLatest(last *int64) {
	now := time.Now().UnixNano()
	for {
		l := atomic.LoadInt64(last)
		if now <= l || atomic.CompareAndSwapInt64(last, l, now) {
			return
		}
	}
}

// timeCancel: once all n members are parked, cancels and reports the
// time until the last one returned (name) and the cancel call (name_call).
func timeCancel(name string, n int, arrived, last *int64, cancel context.CancelFunc, wg *sync.WaitGroup) {
	waitAllParked(arrived, n, name)
	t0 := time.Now()
	cancel()
	t1 := time.Now()
	wg.Wait()
	report(name, "ns", float64(atomic.LoadInt64(last)-t0.UnixNano()), n)
	report(name+"_call", "ns", float64(t1.Sub(t0).Nanoseconds()), n)
}

// benchGroupCancelIO: the twin of group_cancel_io.  A greenrt member
// parked in gr_read is interrupted by its group's cancellation; in Go a
// conn.Read ignores the context, and the idiom (net.Dialer's, net/http's;
// context.AfterFunc's from Go 1.21) is a goroutine per operation that
// waits for ctx.Done() and sets a read deadline in the past, which wakes
// the Read with os.ErrDeadlineExceeded.  Each member reads an unbound
// UDP socket of its own, as in C.
func benchGroupCancelIO() {
	n := scaled(groupN)
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) == nil && rl.Cur < rl.Max {
		rl.Cur = rl.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
	}
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) == nil && rl.Cur < uint64(n)+200 {
		fail("group_cancel_io: needs %d descriptors, RLIMIT_NOFILE allows %d", n+200, rl.Cur)
	}
	conns := make([]net.PacketConn, n)
	for i := range conns {
		fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, 0)
		if err != nil {
			fail("group_cancel_io: socket #%d: %v", i, err)
		}
		f := os.NewFile(uintptr(fd), "udp")
		c, err := net.FilePacketConn(f) // a dup, in the netpoller
		f.Close()
		if err != nil {
			fail("group_cancel_io: FilePacketConn #%d: %v", i, err)
		}
		conns[i] = c
	}
	ctx, cancel := context.WithCancel(context.Background())
	longAgo := time.Unix(1, 0)
	var wg sync.WaitGroup
	var arrived, last int64
	wg.Add(n)
	for _, c := range conns {
		c := c
		go func() { // the watcher: context.AfterFunc(ctx, ...) in Go 1.21
			<-ctx.Done()
			c.SetReadDeadline(longAgo)
		}()
		go func() {
			var b [1]byte
			atomic.AddInt64(&arrived, 1)
			_, _, err := c.ReadFrom(b[:])
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				fail("group_cancel_io: a Read of an idle socket returned %v, not a deadline", err)
			}
			noteLatest(&last)
			wg.Done()
		}()
	}
	timeCancel("group_cancel_io", n, &arrived, &last, cancel, &wg)
	for _, c := range conns {
		c.Close()
	}
}
