package remote

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/patchgit/patchgit/internal/rpc"
)

// otherDaemon is an SSH server (x/crypto's) standing in for a daemon of
// another release: answer plays its side of the rpc exec channel.
func otherDaemon(t *testing.T, answer func(ch ssh.Channel)) int {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &ssh.ServerConfig{KeyboardInteractiveCallback: func(_ ssh.ConnMetadata, ask ssh.KeyboardInteractiveChallenge) (*ssh.Permissions, error) {
		a, err := ask("", "", []string{"PIN: "}, []bool{false})
		if err != nil || len(a) != 1 || a[0] != testPIN {
			return nil, errors.New("wrong PIN")
		}
		return &ssh.Permissions{}, nil
	}}
	cfg.AddHostKey(signer)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				_, chans, reqs, err := ssh.NewServerConn(c, cfg)
				if err != nil {
					return
				}
				go ssh.DiscardRequests(reqs)
				for nc := range chans {
					ch, chReqs, err := nc.Accept()
					if err != nil {
						return
					}
					go func() {
						for req := range chReqs {
							if req.Type == "exec" {
								req.Reply(true, nil)
								answer(ch)
								ch.Close()
								return
							}
							req.Reply(false, nil)
						}
					}()
				}
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

func exitStatus(ch ssh.Channel, code uint32) {
	b := make([]byte, 4)
	binary.BigEndian.PutUint32(b, code)
	ch.SendRequest("exit-status", false, b)
}

func connectTo(t *testing.T, port int) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Connect(ctx, Options{
		Target: Target{User: "alice", Host: "127.0.0.1", Port: port}, KnownHosts: filepath.Join(t.TempDir(), "known_hosts"),
		Prompt: &script{answers: []string{"yes", testPIN}}, Version: "v1.0-test",
	})
	if err == nil {
		s.Close()
	}
	return err
}

func TestNewerDaemonExplainsWhichSideToUpgrade(t *testing.T) {
	port := otherDaemon(t, func(ch ssh.Channel) {
		fmt.Fprintln(ch, `{"proto":"patchgit-rpc","version":2,"server":"v2.0"}`)
		bufio.NewReader(ch).ReadString('\n') // the hello
		fmt.Fprintln(ch, `{"error":{"code":"version","message":"the patchgit client (v1.0-test) speaks control protocol version 1, the daemon (v2.0) speaks 2: upgrade the client to the daemon's version: control protocol version mismatch"}}`)
		exitStatus(ch, 1)
	})
	err := connectTo(t, port)
	if !errors.Is(err, rpc.ErrVersionMismatch) || !strings.Contains(err.Error(), "upgrade the client") ||
		!strings.Contains(err.Error(), "alice@127.0.0.1") {
		t.Fatalf("version mismatch: %v", err)
	}
	if !permanent(err) {
		t.Fatal("a version mismatch would be retried forever")
	}
}

func TestDaemonWithoutRPCIsNamed(t *testing.T) {
	port := otherDaemon(t, func(ch ssh.Channel) {
		fmt.Fprintln(ch.Stderr(), `patchgit: unknown command "rpc": run `+"`ssh HOST help`"+` to list commands`)
		exitStatus(ch, 1)
	})
	err := connectTo(t, port)
	if !errors.Is(err, ErrNoRPC) || !strings.Contains(err.Error(), `unknown command \"rpc\"`) {
		t.Fatalf("old daemon: %v", err)
	}
}
