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
// closes the oldest connection of the busiest network rather than turning
// the newcomer away, so stalled or slow-drip connections (which are always
// the oldest) cannot keep a real login out, and a flood from one network
// evicts its own connections before anyone else's.
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
		victims = append(victims, p.removeLocked(list[0]))
	}
	for p.total >= p.max {
		victims = append(victims, p.removeLocked(p.busiestOldestLocked()))
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

// busiestOldestLocked picks the oldest connection of the network holding
// the most; ties go to the network whose oldest is oldest.
func (p *preauth) busiestOldestLocked() *pending {
	var pick *pending
	most := 0
	for _, list := range p.byNet {
		if len(list) > most || (len(list) == most && list[0].seq < pick.seq) {
			pick, most = list[0], len(list)
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
