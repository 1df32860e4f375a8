package rpc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/patchgit/patchgit/internal/core"
)

func TestSubscribeStreamsEventsAndStopsOnCancel(t *testing.T) {
	forEachTransport(t, func(t *testing.T, tr transport) {
		svc := newMemService()
		c := tr.connect(t, svc, nil)
		ctx, cancel := context.WithCancel(context.Background())
		events, err := c.Subscribe(ctx)
		if err != nil {
			t.Fatalf("Subscribe: %v", err)
		}
		conv, err := c.StartConversation(context.Background(), "alice", "demo", "events please")
		if err != nil {
			t.Fatal(err)
		}
		var got []core.Event
		for len(got) < 2 {
			ev, ok := waitFor(t, chanOK(events), "an event")()
			if !ok {
				t.Fatalf("the stream closed after %v", got)
			}
			got = append(got, ev)
		}
		want := []core.Event{{Kind: core.EventAudit, ID: "1"}, {Kind: core.EventConversation, ID: conv.ID, Repo: "demo"}}
		if !slices.Equal(got, want) {
			t.Fatalf("events %+v, want %+v", got, want)
		}

		cancel()
		for {
			if _, ok := waitFor(t, chanOK(events), "the stream to close")(); !ok {
				break
			}
		}
		waitFor(t, svc.unsubscribed, "the server to end the service's subscription")
		if n := svc.subscribers(); n != 0 {
			t.Errorf("%d subscriptions left on the service after cancel", n)
		}
		if _, err := c.Repos(context.Background()); err != nil {
			t.Errorf("Repos after cancelling a subscription: %v", err)
		}
	})
}

func TestSubscribeEndsWhenTheServiceEndsIt(t *testing.T) {
	svc := newMemService()
	c := connectPipe(t, svc, nil)
	events, err := c.Subscribe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	svc.endSubscriptions()
	if _, ok := waitFor(t, chanOK(events), "the stream to close")(); ok {
		t.Fatal("got an event, want the stream closed")
	}
	if _, err := c.Repos(context.Background()); err != nil {
		t.Errorf("Repos after the service ended a subscription: %v", err)
	}
}

// chanOK turns a receive with its ok flag into something waitFor can wait
// on.
func chanOK(ch <-chan core.Event) <-chan func() (core.Event, bool) {
	out := make(chan func() (core.Event, bool), 1)
	go func() {
		ev, ok := <-ch
		out <- func() (core.Event, bool) { return ev, ok }
	}()
	return out
}

func TestSlowSubscriberLosesEventsThenGetsResync(t *testing.T) {
	s := &stream{ch: make(chan core.Event, 2), ended: make(chan struct{})}
	ev := func(id string) core.Event { return core.Event{Kind: core.EventJob, ID: id} }
	s.offer(ev("1"))
	s.offer(ev("2"))
	s.offer(ev("3")) // no room: dropped
	got := []core.Event{<-s.ch, <-s.ch}
	s.offer(ev("4"))
	got = append(got, <-s.ch, <-s.ch)
	kinds := []string{}
	for _, e := range got {
		kinds = append(kinds, string(e.Kind)+":"+e.ID)
	}
	if want := []string{"job:1", "job:2", "resync:", "job:4"}; !slices.Equal(kinds, want) {
		t.Errorf("delivered %v, want %v", kinds, want)
	}
}

func TestVersionMismatchSaysWhichSideToUpgrade(t *testing.T) {
	cases := []struct {
		name                string
		serverProto, client int
		want                string
	}{
		{"client newer", 1, 2, "upgrade the daemon"},
		{"daemon newer", 2, 1, "upgrade the client"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			server, client := net.Pipe()
			served := make(chan error, 1)
			go func() {
				served <- serve(context.Background(), server, newMemService(), nil, "v0.9.0", tc.serverProto)
			}()
			_, err := newClient(context.Background(), client, "v1.4.0", tc.client)
			if !errors.Is(err, ErrVersionMismatch) {
				t.Fatalf("handshake error %v, want ErrVersionMismatch", err)
			}
			for _, part := range []string{tc.want, "v0.9.0", "v1.4.0"} {
				if !strings.Contains(err.Error(), part) {
					t.Errorf("message %q does not mention %q", err, part)
				}
			}
			if err := waitErr(t, served); !errors.Is(err, ErrVersionMismatch) {
				t.Errorf("Serve returned %v, want ErrVersionMismatch", err)
			}
		})
	}
}

func TestNotADaemon(t *testing.T) {
	server, client := net.Pipe()
	go func() {
		server.Write([]byte("SSH-2.0-OpenSSH_9.6\r\n"))
		server.Close()
	}()
	_, err := NewClient(context.Background(), client, "v1")
	if err == nil || !strings.Contains(err.Error(), "is this a patchgit control socket?") {
		t.Errorf("NewClient against another protocol: %v", err)
	}
}

func TestOversizeFramesAreRefused(t *testing.T) {
	forEachTransport(t, func(t *testing.T, tr transport) {
		svc := newMemService()
		c := tr.connect(t, svc, nil)
		ctx := context.Background()

		_, err := c.Propose(ctx, "alice", "demo", strings.Repeat("+", MaxFrameSize+1))
		if !errors.Is(err, ErrFrameTooLarge) || !errors.Is(err, core.ErrInputTooLarge) {
			t.Fatalf("oversize request: %v, want ErrFrameTooLarge and core.ErrInputTooLarge", err)
		}
		if !strings.Contains(err.Error(), "frame limit") {
			t.Errorf("oversize request message %q does not explain the limit", err)
		}
		if slices.ContainsFunc(svc.callLog(), func(s string) bool { return strings.HasPrefix(s, "Propose") }) {
			t.Error("the oversize request reached the service")
		}

		_, err = c.Proposal(ctx, hugeProposal)
		if !errors.Is(err, core.ErrInputTooLarge) || !strings.Contains(err.Error(), "ask for less") {
			t.Fatalf("oversize answer: %v, want a too_large error that says to ask for less", err)
		}
		if _, err := c.Repos(ctx); err != nil {
			t.Errorf("the connection is unusable after oversize frames: %v", err)
		}
	})
}

func TestOversizeIncomingFrameEndsTheConnection(t *testing.T) {
	p := rawServe(t, newMemService(), nil)
	p.handshake(ProtocolVersion)
	go p.conn.Write([]byte(`{"id":1,"method":"Propose","params":["a","demo","` + strings.Repeat("x", MaxFrameSize) + "\"]}\n"))
	f := p.next()
	if f.Error == nil || f.Error.Code != CodeTooLarge || !strings.Contains(f.Error.Message, "8 MiB") {
		t.Fatalf("after an oversize frame got %+v, want a too_large error naming the limit", f)
	}
	if err := p.readErr(); err == nil {
		t.Error("the server kept the connection open after an oversize frame")
	}
	if err := waitErr(t, p.served); !errors.Is(err, ErrFrameTooLarge) {
		t.Errorf("Serve returned %v, want ErrFrameTooLarge", err)
	}
}

func TestBadFramesGetClearErrors(t *testing.T) {
	svc := newMemService()
	p := rawServe(t, svc, svc)
	p.handshake(ProtocolVersion)
	cases := []struct {
		line, code, want string
	}{
		{`this is not json`, CodeBadRequest, "malformed frame"},
		{`{"id":1,"method":"Nope","params":[]}`, CodeBadRequest, `unknown method "Nope"`},
		{`{"id":2,"method":"Go","params":["alice","p-1"]}`, CodeBadRequest, "want 3 (string, string, int), got 2"},
		{`{"id":3,"method":"Go","params":["alice","p-1","one"]}`, CodeBadRequest, "param 3 of Go: want int"},
		{`{"id":4,"method":"Go","params":{"actor":"alice"}}`, CodeBadRequest, "want a JSON array"},
		{`{"id":5,"method":"SetPIN","params":["root",918273]}`, CodeBadRequest, "param 2 of SetPIN: want string"},
		{`{"id":6,"method":"Proposal","params":["p-1","p-2"]}`, CodeBadRequest, "want 1 (string), got 2"},
		{`{"id":7,"method":"Proposal","params":null}`, CodeBadRequest, "want 1 (string), got 0"},
		{`{"method":"Repos"}`, CodeBadRequest, "needs an id"},
		{`{"id":8}`, CodeBadRequest, "unknown frame"},
	}
	for _, tc := range cases {
		p.send(tc.line)
		f := p.next()
		if f.Error == nil || f.Error.Code != tc.code || !strings.Contains(f.Error.Message, tc.want) {
			t.Errorf("%s: got %+v, want %s error containing %q", tc.line, f.Error, tc.code, tc.want)
		}
		if f.Error != nil && strings.Contains(f.Error.Message, "918273") {
			t.Errorf("the error repeats the PIN: %q", f.Error.Message)
		}
	}
	p.send(`{"id":9,"method":"Repos"}`) // params may be left out
	if f := p.next(); f.ID != 9 || f.Error != nil {
		t.Errorf("Repos without params: %+v", f)
	}
	if svc.currentPIN() != "" {
		t.Error("a malformed SetPIN changed the PIN")
	}
}

func TestHandshakeWantsHelloFirst(t *testing.T) {
	p := rawServe(t, newMemService(), nil)
	p.send(`{"id":1,"method":"Repos"}`)
	f := p.next()
	if f.Error == nil || f.Error.Code != CodeBadRequest || !strings.Contains(f.Error.Message, "hello") {
		t.Fatalf("request before hello: %+v, want a bad_request error about hello", f)
	}
	if err := waitErr(t, p.served); !errors.Is(err, ErrBadRequest) {
		t.Errorf("Serve returned %v, want ErrBadRequest", err)
	}
}

func TestConcurrentRequests(t *testing.T) {
	forEachTransport(t, func(t *testing.T, tr transport) {
		svc := newMemService()
		c := tr.connect(t, svc, nil)
		ctx := context.Background()
		var ids []string
		for i := range 8 {
			p, err := svc.Propose(ctx, "seed", "demo", fmt.Sprintf("+line %d\n", i))
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, p.ID)
		}

		// A request the service holds does not hold up the others.
		blocked := make(chan error, 1)
		go func() {
			j, err := c.Job(ctx, blockingJob)
			if err == nil && j.State != core.JobDone {
				err = fmt.Errorf("blocked Job answered %+v", j)
			}
			blocked <- err
		}()
		waitFor(t, svc.entered, "the blocking request to reach the service")

		var wg sync.WaitGroup
		for g := range 16 {
			wg.Go(func() {
				for i := range 25 {
					id := ids[(g+i)%len(ids)]
					p, err := c.Proposal(ctx, id)
					if err != nil || p.ID != id {
						t.Errorf("Proposal(%s) = %s, %v", id, p.ID, err)
					}
					title := fmt.Sprintf("g%d-%d", g, i)
					conv, err := c.StartConversation(ctx, "alice", "tools", title)
					if err != nil || conv.Title != title {
						t.Errorf("StartConversation(%s) = %+v, %v", title, conv, err)
					}
					if _, err := c.Proposal(ctx, "missing"); !errors.Is(err, core.ErrNotFound) {
						t.Errorf("Proposal(missing) = %v, want ErrNotFound", err)
					}
				}
			})
		}
		wg.Wait()
		close(svc.release)
		if err := waitFor(t, blocked, "the blocked request to finish"); err != nil {
			t.Error(err)
		}
		convs, err := c.Conversations(ctx, "tools")
		if err != nil || len(convs) != 16*25 {
			t.Errorf("Conversations after the run: %d, %v; want %d", len(convs), err, 16*25)
		}
	})
}

func TestCancelledContextCancelsTheServerSide(t *testing.T) {
	forEachTransport(t, func(t *testing.T, tr transport) {
		svc := newMemService()
		c := tr.connect(t, svc, nil)
		ctx, cancel := context.WithCancel(context.Background())
		result := make(chan error, 1)
		go func() {
			_, err := c.Job(ctx, blockingJob)
			result <- err
		}()
		waitFor(t, svc.entered, "the request to reach the service")
		cancel()
		if err := waitFor(t, result, "the call to return"); !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled call returned %v, want context.Canceled", err)
		}
		waitFor(t, svc.cancelled, "the service's context to be cancelled")
		if _, err := c.Repos(context.Background()); err != nil {
			t.Errorf("Repos after a cancelled call: %v", err)
		}
	})
}

func TestAdminNeedsAnAdmin(t *testing.T) {
	forEachTransport(t, func(t *testing.T, tr transport) {
		svc := newMemService()
		c := tr.connect(t, svc, nil) // like the SSH endpoint: no Admin
		const pin = "13579246"
		err := c.SetPIN(context.Background(), "mallory", pin)
		if !errors.Is(err, ErrUnauthorized) {
			t.Fatalf("SetPIN without Admin: %v, want ErrUnauthorized", err)
		}
		if err.Error() != "unauthorized: only the local control socket may do this" {
			t.Errorf("message %q", err)
		}
		if svc.currentPIN() != "" || slices.ContainsFunc(svc.callLog(), func(s string) bool { return strings.HasPrefix(s, "SetPIN") }) {
			t.Error("SetPIN reached the service through a connection without Admin")
		}
	})
}

func TestShutdownTellsClients(t *testing.T) {
	svc := newMemService()
	path, stop := serveSocket(t, svc, svc, nil)
	c, err := Dial(context.Background(), path, "client-test")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	events, err := c.Subscribe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	blocked := make(chan error, 1)
	go func() {
		_, err := c.Job(context.Background(), blockingJob)
		blocked <- err
	}()
	waitFor(t, svc.entered, "the request to reach the service")

	stop() // returns once ServeListener returned nil
	if err := waitFor(t, blocked, "the call in flight to fail"); !errors.Is(err, core.ErrServiceShutdown) {
		t.Errorf("call in flight during shutdown: %v, want ErrServiceShutdown", err)
	}
	if _, ok := waitFor(t, chanOK(events), "the stream to close")(); ok {
		t.Error("the subscription delivered an event instead of closing")
	}
	if _, err := c.Repos(context.Background()); !errors.Is(err, core.ErrServiceShutdown) {
		t.Errorf("call after shutdown: %v, want ErrServiceShutdown", err)
	}
	if _, err := Dial(context.Background(), path, "client-test"); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Dial after shutdown: %v, want ErrNotRunning", err)
	}
}

func TestCloseFailsCallsInFlight(t *testing.T) {
	svc := newMemService()
	c := connectPipe(t, svc, nil)
	result := make(chan error, 1)
	go func() {
		_, err := c.Job(context.Background(), blockingJob)
		result <- err
	}()
	waitFor(t, svc.entered, "the request to reach the service")
	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := waitFor(t, result, "the call to fail"); !errors.Is(err, ErrClosed) {
		t.Errorf("call in flight at Close: %v, want ErrClosed", err)
	}
	waitFor(t, svc.cancelled, "the server to cancel the abandoned request")
	if _, err := c.Repos(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("call after Close: %v, want ErrClosed", err)
	}
}

// rawPeer is a hand-driven client for frames the real client never sends.
type rawPeer struct {
	t      *testing.T
	conn   net.Conn
	r      *frameReader
	served chan error
}

func rawServe(t *testing.T, svc core.Service, admin core.Admin) *rawPeer {
	t.Helper()
	server, client := net.Pipe()
	p := &rawPeer{t: t, conn: client, r: newFrameReader(client, 2*MaxFrameSize), served: make(chan error, 1)}
	go func() { p.served <- Serve(context.Background(), server, svc, admin, "server-test") }()
	t.Cleanup(func() { client.Close() })
	if f := p.next(); f.Proto != ProtocolName || f.Version != ProtocolVersion || f.Server != "server-test" {
		t.Fatalf("greeting %+v", f)
	}
	return p
}

func (p *rawPeer) handshake(version int) {
	p.t.Helper()
	p.send(fmt.Sprintf(`{"hello":{"version":%d}}`, version))
	if f := p.next(); !f.Ready {
		p.t.Fatalf("handshake answer %+v, want ready", f)
	}
}

func (p *rawPeer) send(line string) {
	p.t.Helper()
	if _, err := p.conn.Write([]byte(line + "\n")); err != nil {
		p.t.Fatalf("write %q: %v", line, err)
	}
}

func (p *rawPeer) next() *frame {
	p.t.Helper()
	got := make(chan *frame, 1)
	go func() {
		f, err := p.r.next()
		if err != nil {
			p.t.Errorf("read frame: %v", err)
		}
		got <- f
	}()
	f := waitFor(p.t, got, "a frame from the server")
	if f == nil {
		p.t.FailNow()
	}
	return f
}

// readErr reads until the server hangs up and returns why.
func (p *rawPeer) readErr() error {
	got := make(chan error, 1)
	go func() {
		for {
			if _, err := p.r.next(); err != nil {
				got <- err
				return
			}
		}
	}()
	return waitFor(p.t, got, "the server to hang up")
}

// panicky is a service with a bug in one method.
type panicky struct{ *memService }

func (panicky) Repos(context.Context) ([]core.Repo, error) { panic("index out of range [3]") }

func TestAPanickingMethodAnswersInternalError(t *testing.T) {
	svc := newMemService()
	c := connectPipe(t, panicky{svc}, nil)
	_, err := c.Repos(context.Background())
	var remote *RemoteError
	if !errors.As(err, &remote) || remote.Code != CodeInternal || !strings.Contains(err.Error(), "internal error in Repos: index out of range") {
		t.Fatalf("Repos that panics: %v, want an internal error naming the method", err)
	}
	if _, err := c.Jobs(context.Background()); err != nil {
		t.Errorf("the connection did not survive the panic: %v", err)
	}
}

func TestSubscriptionsPerConnectionAreBounded(t *testing.T) {
	svc := newMemService()
	c := connectPipe(t, svc, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var first <-chan core.Event
	for i := range maxStreams {
		events, err := c.Subscribe(ctx)
		if err != nil {
			t.Fatalf("subscription %d: %v", i+1, err)
		}
		if i == 0 {
			first = events
		}
	}
	_, err := c.Subscribe(ctx)
	if !errors.Is(err, ErrBadRequest) || !strings.Contains(err.Error(), "cancel one first") {
		t.Fatalf("subscription past the limit: %v, want a bad_request that says to cancel one", err)
	}
	svc.unsubscribe(1) // the service ends the first one
	if _, ok := waitFor(t, chanOK(first), "the first stream to close")(); ok {
		t.Fatal("the first stream delivered an event instead of closing")
	}
	if _, err := c.Subscribe(ctx); err != nil {
		t.Errorf("subscription after one ended: %v", err)
	}
}
