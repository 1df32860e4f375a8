package helpertest

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// PeerProcess names the process that owns the other end of an accepted
// loopback TCP connection, from /proc (Linux): its pid and command name.
// The tests use it to prove who dialed a server: sshd (through an SSH
// channel) or the test process itself (directly).
func PeerProcess(c net.Conn) (pid int, comm string, err error) {
	peer, ok := c.RemoteAddr().(*net.TCPAddr)
	if !ok {
		return 0, "", fmt.Errorf("peer process: %T is not TCP", c.RemoteAddr())
	}
	inode, err := socketInode(peer)
	if err != nil {
		return 0, "", err
	}
	want := "socket:[" + inode + "]"
	fds, _ := filepath.Glob("/proc/[0-9]*/fd/*")
	for _, fd := range fds {
		if link, err := os.Readlink(fd); err == nil && link == want {
			pid, _ = strconv.Atoi(strings.Split(fd, "/")[2])
			raw, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
			return pid, strings.TrimSpace(string(raw)), nil
		}
	}
	return 0, "", fmt.Errorf("peer process of %s: no process holds socket inode %s", peer, inode)
}

// socketInode finds the inode of the TCP socket whose local end is addr.
func socketInode(addr *net.TCPAddr) (string, error) {
	ip4 := addr.IP.To4()
	if ip4 == nil {
		return "", fmt.Errorf("peer process: %s is not IPv4", addr)
	}
	// /proc/net/tcp writes the address as a little-endian hex word.
	local := fmt.Sprintf("%02X%02X%02X%02X:%04X", ip4[3], ip4[2], ip4[1], ip4[0], addr.Port)
	raw, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		return "", fmt.Errorf("peer process: %w", err)
	}
	for _, line := range strings.Split(string(raw), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) > 9 && f[1] == local {
			return f[9], nil
		}
	}
	return "", fmt.Errorf("peer process: no socket %s (%s) in /proc/net/tcp", addr, local)
}

// PeerListener wraps a listener and records, for each accepted connection,
// the command name of the process that dialed it.
type PeerListener struct {
	net.Listener
	mu    sync.Mutex
	peers []string
}

// NewPeerListener listens on 127.0.0.1:0.
func NewPeerListener() (*PeerListener, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	return &PeerListener{Listener: ln}, nil
}

// Port is the listening port.
func (l *PeerListener) Port() int { return l.Addr().(*net.TCPAddr).Port }

func (l *PeerListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	pid, comm, perr := PeerProcess(c)
	who := comm
	switch {
	case perr != nil:
		who = "unknown: " + perr.Error()
	case pid == os.Getpid():
		who = "self"
	}
	l.mu.Lock()
	l.peers = append(l.peers, who)
	l.mu.Unlock()
	return c, nil
}

// Peers is who dialed each accepted connection: "self" for this process,
// else the peer's command name (sshd, sshd-session, ...).
func (l *PeerListener) Peers() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.peers...)
}
