// Go side of gort's network comparison (see bench/net/run.sh).
//
// TestEchoLoad runs the same load as crates/gort/examples/echo.rs: an echo server and
// CONNS client connections in one process on loopback, each doing MSGS round trips of SIZE
// bytes; it prints messages/s and us per message (wall time / all messages).
//
//	ECHO_LOAD=1 go test -run TestEchoLoad -v .            (CONNS=50 MSGS=4000 SIZE=64)
//	go test -bench Echo .                                 (ns/op = ns per message)
package bench

import (
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"
)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return v
	}
	return def
}

func startEcho(tb testing.TB) net.Addr {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				buf := make([]byte, 4096)
				for {
					n, err := c.Read(buf)
					if err != nil {
						return
					}
					if _, err := c.Write(buf[:n]); err != nil {
						return
					}
				}
			}(c)
		}
	}()
	return l.Addr()
}

// echoLoad runs conns connections doing msgs round trips each; returns the exchange time
// and every round trip's latency in microseconds.
func echoLoad(tb testing.TB, addr net.Addr, conns, msgs, size int) (time.Duration, []int) {
	cs := make([]net.Conn, conns)
	for i := range cs {
		c, err := net.Dial("tcp", addr.String())
		if err != nil {
			tb.Fatal(err)
		}
		cs[i] = c
	}
	var wg sync.WaitGroup
	lats := make([][]int, conns)
	start := time.Now()
	for i, c := range cs {
		wg.Add(1)
		go func(i int, c net.Conn) {
			defer wg.Done()
			defer c.Close()
			msg := make([]byte, size)
			back := make([]byte, size)
			c.SetDeadline(start.Add(120 * time.Second))
			lat := make([]int, 0, msgs)
			for j := 0; j < msgs; j++ {
				t := time.Now()
				if _, err := c.Write(msg); err != nil {
					panic(err)
				}
				if _, err := io.ReadFull(c, back); err != nil {
					panic(err)
				}
				lat = append(lat, int(time.Since(t).Microseconds()))
			}
			lats[i] = lat
		}(i, c)
	}
	wg.Wait()
	el := time.Since(start)
	var all []int
	for _, l := range lats {
		all = append(all, l...)
	}
	sort.Ints(all)
	return el, all
}

func TestEchoLoad(t *testing.T) {
	if os.Getenv("ECHO_LOAD") != "1" {
		t.Skip("set ECHO_LOAD=1")
	}
	conns, msgs, size := envInt("CONNS", 50), envInt("MSGS", 4000), envInt("SIZE", 64)
	el, lat := echoLoad(t, startEcho(t), conns, msgs, size)
	total := float64(conns * msgs)
	fmt.Printf("go echo: %d conns x %d msgs x %d B: %.0f msgs/s, %.2f us/msg (GOMAXPROCS=%d);"+
		" round trip p50 %d us, p99 %d us, max %d us\n",
		conns, msgs, size, total/el.Seconds(), el.Seconds()*1e6/total, runtime.GOMAXPROCS(0),
		lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)-1])
}

func BenchmarkEcho(b *testing.B) {
	addr := startEcho(b)
	const conns = 50
	per := b.N/conns + 1
	b.ResetTimer()
	el, _ := echoLoad(b, addr, conns, per, 64)
	b.ReportMetric(float64(el.Nanoseconds())/float64(conns*per), "ns/msg")
}
