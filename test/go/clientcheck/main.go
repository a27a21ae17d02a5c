// clientcheck drives etcd's own Go client (clientv3 of etcd 3.4, the client Kubernetes and most
// etcd tools use) through KV, txn, watch with previous values, leases and the concurrency
// recipes (mutex, election, STM), then auth with a user limited to a prefix, against one endpoint, and prints one line per observation.
// Lines carry no ids, revisions or timings, so the transcript of a real etcd and of raftdesk can
// be compared as text (test/e2e/go-client.test.ts). Any error ends it with exit status 1.
//
//	clientcheck HOST:PORT[,HOST:PORT...]
package main

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/clientv3"
	"go.etcd.io/etcd/clientv3/concurrency"
)

func must(err error, what string) {
	if err != nil {
		fmt.Printf("FAIL %s: %v\n", what, err)
		os.Exit(1)
	}
}

func main() {
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   strings.Split(os.Args[1], ","),
		DialTimeout: 5 * time.Second,
	})
	must(err, "connect")
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	kv(ctx, cli)
	watch(ctx, cli)
	leases(ctx, cli)
	mutex(ctx, cli)
	election(ctx, cli)
	stm(ctx, cli)
	auth(ctx, cli, strings.Split(os.Args[1], ","))
	fmt.Println("DONE")
}

func kv(ctx context.Context, cli *clientv3.Client) {
	for _, k := range []string{"kv/a", "kv/b", "kv/c"} {
		_, err := cli.Put(ctx, k, "v-"+k)
		must(err, "put "+k)
	}
	prev, err := cli.Put(ctx, "kv/a", "again", clientv3.WithPrevKV())
	must(err, "put with prev")
	fmt.Printf("put kv/a prev=%s\n", prev.PrevKv.Value)
	r, err := cli.Get(ctx, "kv/", clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByKey, clientv3.SortDescend))
	must(err, "get prefix")
	for _, kv := range r.Kvs {
		fmt.Printf("get %s=%s version=%d\n", kv.Key, kv.Value, kv.Version)
	}
	c, err := cli.Get(ctx, "kv/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	must(err, "count")
	fmt.Printf("count %d\n", c.Count)
	d, err := cli.Delete(ctx, "kv/b", clientv3.WithPrevKV())
	must(err, "delete")
	fmt.Printf("deleted %d prev=%s\n", d.Deleted, d.PrevKvs[0].Value)
	for _, expect := range []string{"again", "nope"} {
		t, err := cli.Txn(ctx).
			If(clientv3.Compare(clientv3.Value("kv/a"), "=", expect)).
			Then(clientv3.OpPut("kv/a", "swapped-"+expect)).
			Else(clientv3.OpGet("kv/a")).
			Commit()
		must(err, "txn")
		if t.Succeeded {
			fmt.Printf("txn if kv/a=%s: succeeded\n", expect)
		} else {
			fmt.Printf("txn if kv/a=%s: failed, kv/a=%s\n", expect, t.Responses[0].GetResponseRange().Kvs[0].Value)
		}
	}
}

func watch(ctx context.Context, cli *clientv3.Client) {
	wctx, wcancel := context.WithCancel(ctx)
	defer wcancel()
	wch := cli.Watch(wctx, "w/", clientv3.WithPrefix(), clientv3.WithPrevKV())
	// A watch is registered once its first response arrives or a write shows up; give it time.
	time.Sleep(200 * time.Millisecond)
	_, err := cli.Put(ctx, "w/x", "1")
	must(err, "watch put 1")
	_, err = cli.Put(ctx, "w/x", "2")
	must(err, "watch put 2")
	_, err = cli.Delete(ctx, "w/x")
	must(err, "watch delete")
	seen := 0
	for resp := range wch {
		must(resp.Err(), "watch")
		for _, ev := range resp.Events {
			prev := "none"
			if ev.PrevKv != nil {
				prev = string(ev.PrevKv.Value)
			}
			fmt.Printf("watch %s %s=%s prev=%s\n", ev.Type, ev.Kv.Key, ev.Kv.Value, prev)
			seen++
		}
		if seen >= 3 {
			return
		}
	}
}

func leases(ctx context.Context, cli *clientv3.Client) {
	g, err := cli.Grant(ctx, 60)
	must(err, "grant")
	fmt.Printf("lease granted ttl=%d\n", g.TTL)
	_, err = cli.Put(ctx, "lease/k", "v", clientv3.WithLease(g.ID))
	must(err, "put with lease")
	ttl, err := cli.TimeToLive(ctx, g.ID, clientv3.WithAttachedKeys())
	must(err, "time to live")
	fmt.Printf("lease granted-ttl=%d keys=%d remaining>50=%v\n", ttl.GrantedTTL, len(ttl.Keys), ttl.TTL > 50)
	ka, err := cli.KeepAliveOnce(ctx, g.ID)
	must(err, "keep alive once")
	fmt.Printf("lease keep-alive ttl=%d\n", ka.TTL)
	_, err = cli.Revoke(ctx, g.ID)
	must(err, "revoke")
	r, err := cli.Get(ctx, "lease/k")
	must(err, "get after revoke")
	fmt.Printf("after revoke keys=%d\n", len(r.Kvs))
	_, err = cli.TimeToLive(ctx, g.ID)
	fmt.Printf("time-to-live of a revoked lease: %v\n", err)
}

// twoSessions opens two leased sessions, as two processes competing for a lock or a leadership.
func twoSessions(cli *clientv3.Client, what string) (*concurrency.Session, *concurrency.Session) {
	s1, err := concurrency.NewSession(cli, concurrency.WithTTL(10))
	must(err, what+" session 1")
	s2, err := concurrency.NewSession(cli, concurrency.WithTTL(10))
	must(err, what+" session 2")
	return s1, s2
}

func mutex(ctx context.Context, cli *clientv3.Client) {
	s1, s2 := twoSessions(cli, "mutex")
	defer s1.Close()
	defer s2.Close()
	m1 := concurrency.NewMutex(s1, "/lock/")
	m2 := concurrency.NewMutex(s2, "/lock/")
	must(m1.Lock(ctx), "lock 1")
	fmt.Println("mutex: first holder locked")
	short, scancel := context.WithTimeout(ctx, 500*time.Millisecond)
	err := m2.Lock(short)
	scancel()
	fmt.Printf("mutex: second holder while held: %v\n", err)
	got := make(chan error, 1)
	go func() { got <- m2.Lock(ctx) }()
	time.Sleep(100 * time.Millisecond)
	must(m1.Unlock(ctx), "unlock 1")
	must(<-got, "lock 2")
	fmt.Println("mutex: second holder locked after the first unlocked")
	must(m2.Unlock(ctx), "unlock 2")
}

func election(ctx context.Context, cli *clientv3.Client) {
	s1, s2 := twoSessions(cli, "election")
	defer s1.Close()
	defer s2.Close()
	e1 := concurrency.NewElection(s1, "/election/")
	e2 := concurrency.NewElection(s2, "/election/")
	must(e1.Campaign(ctx, "first"), "campaign 1")
	l, err := e1.Leader(ctx)
	must(err, "leader")
	fmt.Printf("election: leader=%s\n", l.Kvs[0].Value)
	won := make(chan error, 1)
	go func() { won <- e2.Campaign(ctx, "second") }()
	time.Sleep(200 * time.Millisecond)
	must(e1.Resign(ctx), "resign")
	must(<-won, "campaign 2")
	l, err = e2.Leader(ctx)
	must(err, "leader 2")
	fmt.Printf("election: after resign leader=%s\n", l.Kvs[0].Value)
	must(e2.Resign(ctx), "resign 2")
}

func stm(ctx context.Context, cli *clientv3.Client) {
	_, err := cli.Put(ctx, "stm/counter", "0")
	must(err, "stm init")
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for j := 0; j < 5; j++ {
				_, err := concurrency.NewSTM(cli, func(s concurrency.STM) error {
					var n int
					fmt.Sscanf(s.Get("stm/counter"), "%d", &n)
					s.Put("stm/counter", fmt.Sprint(n+1))
					return nil
				}, concurrency.WithAbortContext(ctx))
				if err != nil {
					errs[i] = err
					return
				}
			}
		}(i)
	}
	wg.Wait()
	for _, err := range errs {
		must(err, "stm")
	}
	r, err := cli.Get(ctx, "stm/counter")
	must(err, "stm read")
	fmt.Printf("stm: 8 clients x 5 increments -> %s\n", r.Kvs[0].Value)
	keys := []string{}
	all, err := cli.Get(ctx, "", clientv3.WithFromKey(), clientv3.WithKeysOnly())
	must(err, "keys")
	for _, kv := range all.Kvs {
		keys = append(keys, string(kv.Key))
	}
	sort.Strings(keys)
	fmt.Printf("keys left: %s\n", strings.Join(keys, " "))
}

// auth sets up root and a user "alice" who may read and write app/ only, turns auth on, and has
// alice (and a client with a wrong password) use the cluster, mutex included; root turns auth
// off at the end.
func auth(ctx context.Context, cli *clientv3.Client, endpoints []string) {
	_, err := cli.UserAdd(ctx, "root", "rootpw")
	must(err, "add root")
	_, err = cli.UserGrantRole(ctx, "root", "root")
	must(err, "grant root")
	_, err = cli.RoleAdd(ctx, "app")
	must(err, "add role")
	_, err = cli.RoleGrantPermission(ctx, "app", "app/", clientv3.GetPrefixRangeEnd("app/"), clientv3.PermissionType(clientv3.PermReadWrite))
	must(err, "grant permission")
	_, err = cli.UserAdd(ctx, "alice", "alicepw")
	must(err, "add alice")
	_, err = cli.UserGrantRole(ctx, "alice", "app")
	must(err, "grant app")
	_, err = cli.AuthEnable(ctx)
	must(err, "enable auth")
	_, err = cli.Get(ctx, "app/x")
	fmt.Printf("auth: anonymous get: %v\n", err)

	as := func(user, password string) (*clientv3.Client, error) {
		return clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second, Username: user, Password: password})
	}
	if _, err := as("alice", "wrong"); err != nil {
		fmt.Printf("auth: wrong password: %v\n", err)
	}
	alice, err := as("alice", "alicepw")
	must(err, "alice connects")
	defer alice.Close()
	_, err = alice.Put(ctx, "app/x", "1")
	fmt.Printf("auth: alice put app/x: %v\n", err)
	_, err = alice.Put(ctx, "other", "1")
	fmt.Printf("auth: alice put other: %v\n", err)
	r, err := alice.Get(ctx, "app/", clientv3.WithPrefix())
	must(err, "alice get prefix")
	fmt.Printf("auth: alice sees %d key(s) under app/\n", r.Count)
	_, err = alice.Get(ctx, "", clientv3.WithPrefix())
	fmt.Printf("auth: alice get everything: %v\n", err)
	t, err := alice.Txn(ctx).If(clientv3.Compare(clientv3.Value("app/x"), "=", "1")).Then(clientv3.OpPut("app/y", "2")).Commit()
	must(err, "alice txn")
	fmt.Printf("auth: alice txn succeeded=%v\n", t.Succeeded)
	_, err = alice.Txn(ctx).If(clientv3.Compare(clientv3.Value("kv/a"), "=", "1")).Then(clientv3.OpPut("app/y", "3")).Commit()
	fmt.Printf("auth: alice txn reading kv/a: %v\n", err)
	wctx, wcancel := context.WithCancel(ctx)
	wch := alice.Watch(wctx, "app/", clientv3.WithPrefix(), clientv3.WithPrevKV())
	_, err = cli.Put(ctx, "app/x", "from-root")
	fmt.Printf("auth: anonymous put while auth is on: %v\n", err)
	_, err = alice.Put(ctx, "app/x", "2")
	must(err, "alice put again")
	ev := (<-wch).Events[0]
	fmt.Printf("auth: alice watch: %s %s=%s prev=%s\n", ev.Type, ev.Kv.Key, ev.Kv.Value, ev.PrevKv.Value)
	wcancel()
	s, err := concurrency.NewSession(alice)
	must(err, "alice session")
	m := concurrency.NewMutex(s, "app/lock")
	must(m.Lock(ctx), "alice lock")
	must(m.Unlock(ctx), "alice unlock")
	fmt.Println("auth: alice took and released app/lock")
	s.Close()
	denied := concurrency.NewMutex(func() *concurrency.Session {
		s2, err := concurrency.NewSession(alice)
		must(err, "session 2")
		return s2
	}(), "locks/other")
	fmt.Printf("auth: alice lock outside app/: %v\n", denied.Lock(ctx))

	root, err := as("root", "rootpw")
	must(err, "root connects")
	defer root.Close()
	u, err := root.UserList(ctx)
	must(err, "user list")
	fmt.Printf("auth: users %v\n", u.Users)
	_, err = alice.UserList(ctx)
	fmt.Printf("auth: alice lists users: %v\n", err)
	_, err = root.AuthDisable(ctx)
	must(err, "disable auth")
	g, err := cli.Get(ctx, "app/x")
	must(err, "anonymous get after disable")
	fmt.Printf("auth: anonymous get after disable: %s\n", g.Kvs[0].Value)
}
