// Command echo is the Go peer of greenrt's echo server: one goroutine per
// connection, blocking Read/Write, which Go's runtime turns into a park on
// its netpoller (epoll).  It is what a user would write instead of using
// greenrt, so the comparison driver (bench/compare) runs it under the same
// load as examples/echo_greenrt.c and examples/echo_threads.c.
//
// Same flags and behaviour as those servers: --host (127.0.0.1), --port
// (8080; 0 picks a free port), --max-conns N (serve at most N at once; the
// others wait in the listen backlog); prints "listening on HOST:PORT" once
// ready; SIGINT/SIGTERM close the listener, shut every connection down, wait
// for their goroutines and exit 0.  Standard library only.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
)

const bufSize = 16384 // as echo_threads' ECHO_BUF

func main() {
	host := flag.String("host", "127.0.0.1", "address to listen on")
	port := flag.Int("port", 8080, "TCP port (0 picks a free one)")
	maxConns := flag.Int("max-conns", 0, "serve at most N connections at once (0: no limit)")
	flag.Parse()
	if *port < 0 || *port > 65535 || *maxConns < 0 {
		fmt.Fprintln(os.Stderr, "echo_go: bad --port or --max-conns: expected 0..65535 and a count >= 0")
		os.Exit(2)
	}
	raiseNofile()

	ln, err := net.Listen("tcp", net.JoinHostPort(*host, strconv.Itoa(*port)))
	if err != nil {
		fmt.Fprintf(os.Stderr, "echo_go: cannot listen on %s:%d: %v\n", *host, *port, err)
		os.Exit(1)
	}
	fmt.Printf("listening on %s\n", ln.Addr().String())
	os.Stdout.Sync()

	var (
		mu    sync.Mutex
		conns = map[net.Conn]struct{}{}
		wg    sync.WaitGroup
		stop  = make(chan struct{})
	)
	var slots chan struct{} // --max-conns: a token per connection served
	if *maxConns > 0 {
		slots = make(chan struct{}, *maxConns)
	}

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-sig
		close(stop)
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.(*net.TCPConn).CloseRead() // the handler sees EOF and finishes
		}
		mu.Unlock()
	}()

	for {
		if slots != nil {
			select {
			case slots <- struct{}{}:
			case <-stop:
			}
		}
		c, err := ln.Accept()
		if err != nil {
			select {
			case <-stop:
				wg.Wait()
				os.Exit(0)
			default:
			}
			if ne, ok := err.(net.Error); ok && ne.Temporary() {
				if slots != nil {
					<-slots
				}
				continue // EMFILE and friends: try again
			}
			fmt.Fprintf(os.Stderr, "echo_go: accept: %v\n", err)
			os.Exit(1)
		}
		mu.Lock()
		select {
		case <-stop:
			c.Close()
			mu.Unlock()
			continue
		default:
		}
		conns[c] = struct{}{}
		wg.Add(1)
		mu.Unlock()
		go func(c net.Conn) {
			defer wg.Done()
			serve(c)
			mu.Lock()
			delete(conns, c)
			mu.Unlock()
			c.Close()
			if slots != nil {
				<-slots
			}
		}(c)
	}
}

// serve echoes everything c sends until EOF or an error.
func serve(c net.Conn) {
	buf := make([]byte, bufSize)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil { // io.EOF: the client is done
			return
		}
	}
}

// raiseNofile lifts the soft open-files limit to the hard one, as the C
// servers do, so that 10,000 connections fit.
func raiseNofile() {
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) == nil && rl.Cur < rl.Max {
		rl.Cur = rl.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
	}
}
