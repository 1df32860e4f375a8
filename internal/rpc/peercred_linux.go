package rpc

import (
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// peerCred reports the pid and uid of the process on the other end of a
// Unix socket, as the kernel recorded them at connect time.
func peerCred(c *net.UnixConn) (pid int32, uid uint32, err error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return 0, 0, fmt.Errorf("read peer credentials: %w", err)
	}
	var cred *unix.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return 0, 0, fmt.Errorf("read peer credentials: %w", err)
	}
	if credErr != nil {
		return 0, 0, fmt.Errorf("read peer credentials: %w", credErr)
	}
	return cred.Pid, cred.Uid, nil
}
