package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/ssh"
	bolt "go.etcd.io/bbolt"
	"golang.org/x/sync/errgroup"
	"golang.org/x/term"

	"github.com/patchgit/patchgit/internal/config"
	"github.com/patchgit/patchgit/internal/gate"
	"github.com/patchgit/patchgit/internal/pin"
	"github.com/patchgit/patchgit/internal/rpc"
	"github.com/patchgit/patchgit/internal/server"
	"github.com/patchgit/patchgit/internal/store"
	"github.com/patchgit/patchgit/internal/tui"
	"github.com/patchgit/patchgit/internal/web"
)

func runServe(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	g := addGlobalFlags(fs)
	var sshAddr, httpAddr string
	fs.StringVar(&sshAddr, "ssh-addr", "", "SSH listen address host:port (default 127.0.0.1:2222)")
	fs.StringVar(&httpAddr, "http-addr", "", "web mirror listen address host:port (default 127.0.0.1:8080)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: patchgit serve [flags]\n\nRuns the daemon on the embedded defaults unless a config says otherwise:\n"+
			"a demo repository, the local forge and the offline assistant. Ssh in with: ssh -p PORT HOST\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return exitError{code: 2, msg: "serve takes no arguments, only flags: see patchgit serve --help"}
	}
	g.overrides["PATCHGIT_SSH_ADDR"] = sshAddr
	g.overrides["PATCHGIT_HTTP_ADDR"] = httpAddr
	cfg, err := g.load()
	if err != nil {
		return err
	}
	log := newLogger(stderr, cfg.LogLevel)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return serve(ctx, cfg, log, stdout)
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}

func serve(ctx context.Context, cfg config.Config, log *slog.Logger, stdout io.Writer) error {
	p, err := openParts(ctx, cfg, log, true, faultFromEnv(log))
	if err != nil {
		return err
	}
	defer p.close()
	if err := ensurePIN(p.db, cfg, log, stdout); err != nil {
		return err
	}
	// Destroy what a crashed daemon left before any job can ask for the
	// slot; the loop below repeats it every minute.
	if err := p.helpers.Reconcile(ctx); err != nil {
		log.Error("reconcile helpers at start; retried every minute", "err", err)
	}
	if err := p.core.Start(ctx); err != nil {
		return err
	}

	sock, err := rpc.Listen(dataPath(cfg, socketFile))
	if err != nil {
		return err
	}
	pinGate, err := newGate(cfg, p, log)
	if err != nil {
		sock.Close()
		return err
	}
	srv, err := server.New(server.Options{
		Addr:               cfg.SSH.Addr,
		HostKeyPath:        dataPath(cfg, hostKeyFile),
		Service:            p.core,
		Gate:               pinGate,
		AuthorizedKeysPath: dataPath(cfg, authorizedKeysFile),
		Limits:             sshLimits(cfg),
		App: func(sess ssh.Session, actor string) tea.Model {
			return tui.New(p.core, tui.Options{Actor: actor, MaxPasteBytes: int(cfg.Sandbox.MaxPasteBytes),
				Notice: server.RecentFailures(sess)})
		},
		Logger:        log,
		MaxStdinBytes: cfg.Sandbox.MaxPatchBytes,
		Version:       version,
	})
	if err != nil {
		sock.Close()
		return err
	}
	mirror, err := web.New(web.Options{
		Service:  p.core,
		Sessions: p.web,
		// The same gate as SSH: wrong PINs on the web and over SSH count
		// against one budget and one lock.
		PIN:       pinGate,
		Locked:    gate.ErrLocked,
		PublicURL: cfg.HTTP.PublicURL,
		Logger:    log,
	})
	if err != nil {
		sock.Close()
		return err
	}
	httpLn, err := net.Listen("tcp", cfg.HTTP.Addr)
	if err != nil {
		sock.Close()
		return fmt.Errorf("listen for the web mirror on %s (http.addr): %w", cfg.HTTP.Addr, err)
	}

	grp, gctx := errgroup.WithContext(ctx)
	grp.Go(func() error { return rpc.ServeListener(gctx, sock, p.core, p.core, version, log) })
	grp.Go(func() error {
		if err := srv.Serve(); err != nil && !errors.Is(err, ssh.ErrServerClosed) {
			return err
		}
		return nil
	})
	grp.Go(func() error { return mirror.Serve(httpLn) })
	grp.Go(func() error { p.helpers.Loop(gctx); return nil })
	grp.Go(func() error {
		<-gctx.Done()
		log.Info("shutting down")
		sctx, cancel := context.WithTimeout(context.WithoutCancel(gctx), 30*time.Second)
		defer cancel()
		sock.Close()
		err := errors.Join(srv.Shutdown(sctx), mirror.Shutdown(sctx))
		return errors.Join(err, p.core.Shutdown(sctx))
	})
	err = grp.Wait()
	if ctx.Err() != nil && err == nil {
		log.Info("stopped")
	}
	return err
}

// pinChecker verifies a PIN against the stored argon2id hash; it reads the
// hash each time so `patchgit pin set` takes effect at once.
type pinChecker struct{ db *store.DB }

func (c pinChecker) CheckPIN(_ context.Context, guess string) (bool, error) {
	encoded, ok, err := pin.Load(c.db)
	if err != nil || !ok {
		return false, errors.Join(err, errors.New("no PIN is set: run patchgit pin set"))
	}
	return pin.Verify(encoded, guess)
}

// ensurePIN sets the PIN at first start: PATCHGIT_PIN if given (for
// automation), else a random one shown once (terminal) or written to a
// 0600 file whose path, never the PIN, is logged.
func ensurePIN(db *store.DB, cfg config.Config, log *slog.Logger, stdout io.Writer) error {
	if _, ok, err := pin.Load(db); err != nil || ok {
		return err
	}
	value, fromEnv := os.LookupEnv("PATCHGIT_PIN")
	if fromEnv {
		if err := pin.Validate(value); err != nil {
			return fmt.Errorf("PATCHGIT_PIN: %w", err)
		}
	} else {
		var err error
		if value, err = pin.Generate(); err != nil {
			return err
		}
	}
	hash, err := pin.Hash(value)
	if err != nil {
		return err
	}
	if err := db.Update(func(tx *bolt.Tx) error { return pin.Save(tx, hash) }); err != nil {
		return fmt.Errorf("save PIN: %w", err)
	}
	switch {
	case fromEnv:
		log.Info("PIN set from PATCHGIT_PIN")
	case isTerminal(stdout):
		fmt.Fprintf(stdout, "\n  Your PatchGit PIN is %s. It is shown only this once; change it with `patchgit pin set`.\n\n", value)
	default:
		path := dataPath(cfg, pinFile)
		if err := os.WriteFile(path, []byte(value+"\n"), 0o600); err != nil {
			return fmt.Errorf("write initial PIN file: %w", err)
		}
		log.Info("a random PIN was generated; read it once from the file, then delete the file", "file", path)
	}
	return nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// faultFromEnv is a test-only fault point: PATCHGIT_FAULT_KILL_AFTER=push
// kills the daemon with SIGKILL right after that journaled step, so the
// crash-resume test can prove a resumed job repeats nothing.
func faultFromEnv(log *slog.Logger) func(string) error {
	step := os.Getenv("PATCHGIT_FAULT_KILL_AFTER")
	if step == "" {
		return nil
	}
	log.Warn("fault injection armed: the daemon kills itself after a step", "step", step)
	return func(done string) error {
		if done == step {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
		}
		return nil
	}
}
