// loadgen drives a cluster with etcd's own Go client (clientv3 of etcd 3.4), which costs far
// less CPU per call than a JavaScript client, so on a small machine the members saturate before
// it does. One workload for a fixed time. It prints "ready" on stdout once connected and seeded,
// as the timed part starts (a harness samples the members' CPU there), and at the end one JSON
// line:
//
//	{"ops":N,"seconds":S,"p50Ms":..,"p99Ms":..,"maxMs":..,"errors":E}
//
//	loadgen -endpoints H:P[,H:P...] -workload W [-clients 8] [-inflight 16] [-seconds 5]
//	        [-key-bytes 8] [-value-bytes 256] [-user NAME -password P]
//
// Workloads:
//
//	put                one key per call, a new key each time
//	get                linearizable get of one key (one seeded key per slot)
//	get-serializable   the same, served by the member asked
//	txn-put            a txn whose success branch is one put
//	range-1000         a linearizable get of a prefix holding 1,000 keys
//	mix                90% linearizable gets, 10% puts
//	lease              grant a lease, keep it alive once, revoke it (one op = the three calls)
//	lease-keepalive    keep one lease per slot alive once (clientv3's KeepAliveOnce)
//	watch              -inflight writers put timestamps while -watchers watchers (spread over
//	                   the clients) watch the prefix; one op is one event delivered to one
//	                   watcher, its latency from the put's send to the event's arrival
//	fill               writes keys fill/<n> for n in [-from, -to) in txns of 128 puts, then
//	                   stops (no time limit); one op is one key
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
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/clientv3"
)

// slotLeases: the lease each slot keeps alive (lease-keepalive).
var slotLeases []int64

func main() {
	endpoints := flag.String("endpoints", "", "host:port,...")
	workload := flag.String("workload", "put", "put | get | get-serializable | txn-put | range-1000 | mix | lease | watch")
	clients := flag.Int("clients", 8, "connections")
	inflight := flag.Int("inflight", 16, "calls in flight")
	watchers := flag.Int("watchers", 100, "watchers (watch workload)")
	seconds := flag.Float64("seconds", 5, "how long")
	keyBytes := flag.Int("key-bytes", 8, "key size")
	valueBytes := flag.Int("value-bytes", 256, "value size")
	user := flag.String("user", "", "authenticate as this user")
	password := flag.String("password", "", "the user's password")
	from := flag.Int("from", 0, "fill: first key number")
	to := flag.Int("to", 0, "fill: key number to stop before")
	flag.Parse()

	conns := make([]*clientv3.Client, *clients)
	for i := range conns {
		c, err := clientv3.New(clientv3.Config{
			Endpoints:   strings.Split(*endpoints, ","),
			DialTimeout: 5 * time.Second,
			Username:    *user,
			Password:    *password,
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
	seed := func(k string) {
		if _, err := conns[0].Put(context.Background(), k, value); err != nil {
			fmt.Fprintln(os.Stderr, "seed:", err)
			os.Exit(1)
		}
	}
	// Reads need something to read: one key per slot, or the 1,000 keys of the range.
	switch *workload {
	case "get", "get-serializable", "mix":
		for i := 0; i < *inflight; i++ {
			seed(key(i))
		}
	case "range-1000":
		for i := 0; i < 1000; i++ {
			seed(fmt.Sprintf("range/%04d", i))
		}
	case "lease-keepalive":
		slotLeases = make([]int64, *inflight)
		for i := range slotLeases {
			g, err := conns[0].Grant(context.Background(), 600)
			if err != nil {
				fmt.Fprintln(os.Stderr, "grant:", err)
				os.Exit(1)
			}
			slotLeases[i] = int64(g.ID)
		}
	}

	if *workload == "fill" {
		report(fill(conns, *inflight, *from, *to, value))
		return
	}
	if *workload == "watch" {
		report(watch(conns, *inflight, *watchers, value, *seconds))
		return
	}
	fmt.Println("ready")
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
			for i := 0; time.Now().Before(deadline); i++ {
				t0 := time.Now()
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				err := call(ctx, c, *workload, key, slot, &n, *inflight, i, value)
				cancel()
				if err != nil {
					if errs[slot] < 3 {
						fmt.Fprintln(os.Stderr, "error:", err)
					}
					errs[slot]++
					continue
				}
				lat[slot] = append(lat[slot], time.Since(t0))
			}
		}(slot)
	}
	wg.Wait()
	report(lat, errs, time.Since(start).Seconds())
}

// call makes one operation of the workload; n is the slot's next key number for writes.
func call(ctx context.Context, c *clientv3.Client, workload string, key func(int) string,
	slot int, n *int, inflight int, i int, value string) error {
	put := func() error {
		_, err := c.Put(ctx, key(*n), value)
		*n += inflight
		return err
	}
	switch workload {
	case "put":
		return put()
	case "get":
		_, err := c.Get(ctx, key(slot))
		return err
	case "get-serializable":
		_, err := c.Get(ctx, key(slot), clientv3.WithSerializable())
		return err
	case "txn-put":
		_, err := c.Txn(ctx).Then(clientv3.OpPut(key(*n), value)).Commit()
		*n += inflight
		return err
	case "range-1000":
		r, err := c.Get(ctx, "range/", clientv3.WithPrefix())
		if err == nil && len(r.Kvs) != 1000 {
			return fmt.Errorf("range returned %d keys", len(r.Kvs))
		}
		return err
	case "mix":
		if i%10 == 9 {
			return put()
		}
		_, err := c.Get(ctx, key(slot))
		return err
	case "lease-keepalive":
		_, err := c.KeepAliveOnce(ctx, clientv3.LeaseID(slotLeases[slot]))
		return err
	case "lease":
		g, err := c.Grant(ctx, 60)
		if err != nil {
			return err
		}
		if _, err := c.KeepAliveOnce(ctx, g.ID); err != nil {
			return err
		}
		_, err = c.Revoke(ctx, g.ID)
		return err
	}
	return fmt.Errorf("unknown workload %q", workload)
}

// watch runs `writers` writers and `watchers` watchers on one prefix until the deadline; each
// event's latency is measured from the put's send (its value carries the time) to its arrival.
func watch(conns []*clientv3.Client, writers, watchers int, pad string,
	seconds float64) ([][]time.Duration, []int, float64) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	lat := make([][]time.Duration, watchers)
	var mu sync.Mutex
	var wg sync.WaitGroup
	ready := make(chan struct{}, watchers)
	for w := 0; w < watchers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			ch := conns[w%len(conns)].Watch(clientv3.WithRequireLeader(ctx), "watch/",
				clientv3.WithPrefix(), clientv3.WithCreatedNotify())
			signalled := false
			for resp := range ch {
				if resp.Created && !signalled {
					// The member has created the watch: events from now on reach it.
					ready <- struct{}{}
					signalled = true
				}
				now := time.Now()
				for _, ev := range resp.Events {
					sent, err := strconv.ParseInt(strings.SplitN(string(ev.Kv.Value), " ", 2)[0], 10, 64)
					if err == nil {
						mu.Lock()
						lat[w] = append(lat[w], now.Sub(time.Unix(0, sent)))
						mu.Unlock()
					}
				}
			}
		}(w)
	}
	for w := 0; w < watchers; w++ {
		<-ready
	}
	fmt.Println("ready")
	deadline := time.Now().Add(time.Duration(seconds * float64(time.Second)))
	var writeErrors int64
	var wwg sync.WaitGroup
	start := time.Now()
	for s := 0; s < writers; s++ {
		wwg.Add(1)
		go func(s int) {
			defer wwg.Done()
			c := conns[s%len(conns)]
			for i := 0; time.Now().Before(deadline); i++ {
				v := fmt.Sprintf("%d %s", time.Now().UnixNano(), pad)
				pctx, pcancel := context.WithTimeout(context.Background(), 10*time.Second)
				if _, err := c.Put(pctx, fmt.Sprintf("watch/%d", s), v); err != nil {
					atomic.AddInt64(&writeErrors, 1)
				}
				pcancel()
			}
		}(s)
	}
	wwg.Wait()
	elapsed := time.Since(start).Seconds()
	time.Sleep(300 * time.Millisecond) // the last events arrive
	cancel()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	return lat, []int{int(writeErrors)}, elapsed
}

// fill writes keys fill/<n>, n in [from, to), 128 puts per txn (etcd's default --max-txn-ops),
// with `slots` txns in flight.
func fill(conns []*clientv3.Client, slots, from, to int, value string) ([][]time.Duration, []int, float64) {
	const perTxn = 128
	lat := make([][]time.Duration, slots)
	errs := make([]int, slots)
	next := make(chan int, 64)
	go func() {
		for n := from; n < to; n += perTxn {
			next <- n
		}
		close(next)
	}()
	fmt.Println("ready")
	start := time.Now()
	var wg sync.WaitGroup
	for slot := 0; slot < slots; slot++ {
		wg.Add(1)
		go func(slot int) {
			defer wg.Done()
			c := conns[slot%len(conns)]
			for n := range next {
				ops := make([]clientv3.Op, 0, perTxn)
				for k := n; k < n+perTxn && k < to; k++ {
					ops = append(ops, clientv3.OpPut(fmt.Sprintf("fill/%08d", k), value))
				}
				t0 := time.Now()
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				_, err := c.Txn(ctx).Then(ops...).Commit()
				cancel()
				if err != nil {
					fmt.Fprintln(os.Stderr, "fill:", err)
					os.Exit(1)
				}
				for range ops {
					lat[slot] = append(lat[slot], time.Since(t0))
				}
			}
		}(slot)
	}
	wg.Wait()
	return lat, errs, time.Since(start).Seconds()
}

func report(lat [][]time.Duration, errs []int, elapsed float64) {
	var all []time.Duration
	errors := 0
	for i := range lat {
		all = append(all, lat[i]...)
	}
	for _, e := range errs {
		errors += e
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
