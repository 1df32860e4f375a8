package server

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/patchgit/patchgit/internal/gate"
)

// preauth tracks connections that have not authenticated yet and keeps
// them under two caps: one per source network and one in all. At a cap it
// closes a connection to make room rather than turning the newcomer away:
// the least advanced one (nothing received, then a few bytes, then through
// the key exchange), among those the one whose network holds the most,
// among those the oldest. A real client is through the key exchange within
// milliseconds, so stalled and slow-drip connections go first whatever their
// number, and a flood from one network evicts its own connections before
// anyone else's.
type preauth struct {
	max, perNetwork int

	mu      sync.Mutex
	seq     uint64
	byNet   map[netip.Prefix][]*pending // oldest first
	total   int
	evicted atomic.Int64 // connections closed to make room, for logs and tests
}

// pending is one unauthenticated connection.
type pending struct {
	net.Conn
	p       *preauth
	network netip.Prefix
	seq     uint64
	once    sync.Once
	read    atomic.Int64 // bytes received
	atAuth  atomic.Bool  // the key exchange is done: the client is authenticating
}

// keyExchangeBytes: a connection that sent this much has at least sent its
// version line and begun the key exchange.
const keyExchangeBytes = 64

// stage orders connections by how far they got: 0 nothing much, 1 key
// exchange begun, 2 authenticating.
func (c *pending) stage() int {
	switch {
	case c.atAuth.Load():
		return 2
	case c.read.Load() >= keyExchangeBytes:
		return 1
	default:
		return 0
	}
}

func (c *pending) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.read.Add(int64(n))
	return n, err
}

func newPreauth(max, perNetwork int) *preauth {
	return &preauth{max: max, perNetwork: perNetwork, byNet: map[netip.Prefix][]*pending{}}
}

// admit registers conn, making room first if a cap is reached. The
// returned conn leaves the table when it closes or authenticates.
func (p *preauth) admit(conn net.Conn) *pending {
	network := networkOf(conn.RemoteAddr())
	p.mu.Lock()
	var victims []*pending
	if list := p.byNet[network]; len(list) >= p.perNetwork {
		victims = append(victims, p.removeLocked(p.victimLocked(list)))
	}
	for p.total >= p.max {
		victims = append(victims, p.removeLocked(p.victimLocked(nil)))
	}
	p.seq++
	c := &pending{Conn: conn, p: p, network: network, seq: p.seq}
	p.byNet[network] = append(p.byNet[network], c)
	p.total++
	p.mu.Unlock()
	for _, v := range victims {
		p.evicted.Add(1)
		_ = v.Conn.Close()
	}
	return c
}

// victimLocked picks the connection to close: least advanced, then of the
// busiest network, then oldest; from among only when it is not nil.
func (p *preauth) victimLocked(among []*pending) *pending {
	var pick *pending
	var pickStage, pickNet int
	consider := func(c *pending) {
		st, n := c.stage(), len(p.byNet[c.network])
		if pick == nil || st < pickStage || (st == pickStage && (n > pickNet || (n == pickNet && c.seq < pick.seq))) {
			pick, pickStage, pickNet = c, st, n
		}
	}
	if among != nil {
		for _, c := range among {
			consider(c)
		}
		return pick
	}
	for _, list := range p.byNet {
		for _, c := range list {
			consider(c)
		}
	}
	return pick
}

func (p *preauth) removeLocked(c *pending) *pending {
	list := p.byNet[c.network]
	for i, x := range list {
		if x == c {
			list = append(list[:i:i], list[i+1:]...)
			p.total--
			break
		}
	}
	if len(list) == 0 {
		delete(p.byNet, c.network)
	} else {
		p.byNet[c.network] = list
	}
	return c
}

// done takes c out of the table (authenticated or closed); idempotent.
func (c *pending) done() {
	c.once.Do(func() {
		c.p.mu.Lock()
		c.p.removeLocked(c)
		c.p.mu.Unlock()
	})
}

func (c *pending) Close() error {
	c.done()
	return c.Conn.Close()
}

// count is the number of unauthenticated connections now.
func (p *preauth) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.total
}

// networkOf is the source network used for the per-network cap (the same
// /24 or /64 as the gate's penalties); non-IP addresses share one bucket.
func networkOf(a net.Addr) netip.Prefix {
	if tcp, ok := a.(*net.TCPAddr); ok {
		if ip, ok := netip.AddrFromSlice(tcp.IP); ok {
			return gate.SourceNetwork(ip)
		}
	}
	return netip.Prefix{}
}
