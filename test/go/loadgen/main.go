// loadgen drives a cluster with etcd's own Go client (clientv3 of etcd 3.4), which costs far
// less CPU per call than a JavaScript client, so on a small machine the members saturate before
// it does. One workload for a fixed time, then one JSON line on stdout:
//
//	{"ops":N,"seconds":S,"p50Ms":..,"p99Ms":..,"maxMs":..,"errors":E}
//
//	loadgen -endpoints H:P[,H:P...] -workload put|get|get-serializable
//	        [-clients 8] [-inflight 16] [-seconds 5] [-key-bytes 8] [-value-bytes 256]
//
// Calls spread over the endpoints as clientv3 balances them; each in-flight slot is a goroutine
// issuing one call after another on one of the clients.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/clientv3"
)

func main() {
	endpoints := flag.String("endpoints", "", "host:port,...")
	workload := flag.String("workload", "put", "put | get | get-serializable")
	clients := flag.Int("clients", 8, "connections")
	inflight := flag.Int("inflight", 16, "calls in flight")
	seconds := flag.Float64("seconds", 5, "how long")
	keyBytes := flag.Int("key-bytes", 8, "key size")
	valueBytes := flag.Int("value-bytes", 256, "value size")
	flag.Parse()

	conns := make([]*clientv3.Client, *clients)
	for i := range conns {
		c, err := clientv3.New(clientv3.Config{
			Endpoints:   strings.Split(*endpoints, ","),
			DialTimeout: 5 * time.Second,
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, "connect:", err)
			os.Exit(1)
		}
		defer c.Close()
		conns[i] = c
	}
	value := strings.Repeat("v", *valueBytes)
	key := func(n int) string {
		k := fmt.Sprintf("%0*x", *keyBytes, n)
		return k[len(k)-*keyBytes:]
	}
	// Reads need something to read: one key per slot, written first.
	if *workload != "put" {
		for i := 0; i < *inflight; i++ {
			if _, err := conns[0].Put(context.Background(), key(i), value); err != nil {
				fmt.Fprintln(os.Stderr, "seed:", err)
				os.Exit(1)
			}
		}
	}
	var opts []clientv3.OpOption
	if *workload == "get-serializable" {
		opts = append(opts, clientv3.WithSerializable())
	}

	deadline := time.Now().Add(time.Duration(*seconds * float64(time.Second)))
	lat := make([][]time.Duration, *inflight)
	errs := make([]int, *inflight)
	var wg sync.WaitGroup
	start := time.Now()
	for slot := 0; slot < *inflight; slot++ {
		wg.Add(1)
		go func(slot int) {
			defer wg.Done()
			c := conns[slot%len(conns)]
			n := slot
			for time.Now().Before(deadline) {
				t0 := time.Now()
				var err error
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				if *workload == "put" {
					_, err = c.Put(ctx, key(n), value)
					n += *inflight
				} else {
					_, err = c.Get(ctx, key(slot), opts...)
				}
				cancel()
				if err != nil {
					errs[slot]++
					continue
				}
				lat[slot] = append(lat[slot], time.Since(t0))
			}
		}(slot)
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()

	var all []time.Duration
	errors := 0
	for i := range lat {
		all = append(all, lat[i]...)
		errors += errs[i]
	}
	sort.Slice(all, func(a, b int) bool { return all[a] < all[b] })
	pct := func(p float64) float64 {
		if len(all) == 0 {
			return 0
		}
		i := int(float64(len(all)) * p)
		if i >= len(all) {
			i = len(all) - 1
		}
		return float64(all[i].Microseconds()) / 1000
	}
	out, _ := json.Marshal(map[string]interface{}{
		"ops":     len(all),
		"seconds": elapsed,
		"p50Ms":   pct(0.50),
		"p99Ms":   pct(0.99),
		"maxMs":   pct(1),
		"errors":  errors,
	})
	fmt.Println(string(out))
}
