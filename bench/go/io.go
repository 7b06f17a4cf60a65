// io.go - the Go twin of bench/bench_io.c: a one-byte round trip over two
// pipes between two goroutines (os.Pipe, parked in Go's netpoller).
package main

import (
	"io"
	"os"
	"time"
)

const pipeN = 500000

func benchPipeRoundtrip() {
	n := scaled(pipeN)
	ar, aw, err := os.Pipe()
	if err != nil {
		fail("pipe_roundtrip: %v", err)
	}
	br, bw, err := os.Pipe()
	if err != nil {
		fail("pipe_roundtrip: %v", err)
	}
	done := make(chan struct{})
	go func() {
		buf := make([]byte, 1)
		for {
			if _, err := ar.Read(buf); err != nil {
				if err != io.EOF {
					fail("pipe_roundtrip: echoer: %v", err)
				}
				break
			}
			if _, err := bw.Write(buf); err != nil {
				fail("pipe_roundtrip: echoer: %v", err)
			}
		}
		close(done)
	}()
	out, back := make([]byte, 1), make([]byte, 1)
	trip := func(i int) {
		out[0] = byte(i)
		if _, err := aw.Write(out); err != nil {
			fail("pipe_roundtrip: write: %v", err)
		}
		if _, err := io.ReadFull(br, back); err != nil {
			fail("pipe_roundtrip: read: %v", err)
		}
		if back[0] != out[0] {
			fail("pipe_roundtrip: wrote %d, read back %d", out[0], back[0])
		}
	}
	for i := 0; i < 1000; i++ {
		trip(i)
	}
	t0 := time.Now()
	deadline := deadlineAfterCap()
	i := 0
	for i < n {
		trip(i)
		i++
		if i%256 == 0 && time.Now().After(deadline) {
			break
		}
	}
	el := time.Since(t0)
	aw.Close()
	<-done
	report("pipe_roundtrip", "ns", float64(el.Nanoseconds())/float64(i), i)
}
